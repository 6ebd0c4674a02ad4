/**
 * ltt-ext front end: the tutor chat in the right sidebar, following the active notebook,
 * plus "Ask the tutor" on error outputs and on cells.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';

import { TutorApiError, TutorClient } from './api';
import { createErrorRendererFactory, TutorAvailability } from './errors';
import { TRANSLATION_DOMAIN } from './i18n';
import { PANEL_ID, TutorSidebar } from './panel';
import { TutorPreferences } from './settings';
import { stdinPlugin } from './stdin';
import { followTerminals, terminalConversation } from './terminal';

import '../style/index.css';

export { TutorClient } from './api';
export { TutorAvailability } from './errors';
export { TutorChatModel, toChatContent, backoffDelay } from './model';
export { TutorSidebar, engineLabel, kernelLabel } from './panel';
export { TutorPreferences } from './settings';

namespace CommandIDs {
  export const open = 'ltt:open-tutor';
  export const askCell = 'ltt:ask-about-cell';
  export const more = 'ltt:more-help';
}

const tutorIcon = new LabIcon({
  name: 'ltt-ext:tutor',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
    '<path class="jp-icon3" fill="#616161" d="M12 3 1 9l11 6 9-4.91V17h2V9L12 3zm-7 ' +
    '10.18v4L12 21l7-3.82v-4L12 17l-7-3.82z"/></svg>'
});

/** Path of a notebook as the server API knows it (without any drive prefix). */
function apiPath(app: JupyterFrontEnd, panel: NotebookPanel): string {
  const contents = app.serviceManager.contents;
  return contents.localPath(panel.context.path);
}

const PLUGIN_ID = 'ltt-ext:plugin';

/** The commands take no arguments, except the optional prompt of "ask about this cell". */
const NO_ARGS = { args: { type: 'object', properties: {} } };

function cellLabel(
  panel: NotebookPanel,
  cell: Cell,
  trans: TranslationBundle
): string {
  const index = panel.content.widgets.indexOf(cell);
  const count =
    cell.model.type === 'code'
      ? ((cell.model as any).executionCount ?? null)
      : null;
  return count ? trans.__('cell [%1]', count) : trans.__('cell %1', index + 1);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "The learner's tutor chat in the right sidebar.",
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [
    ICommandPalette,
    IThemeManager,
    ILayoutRestorer,
    ISettingRegistry,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    themeManager: IThemeManager | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const settings = ServerConnection.makeSettings();
    const client = new TutorClient(settings);
    const preferences = new TutorPreferences();
    const sidebar = new TutorSidebar({
      client,
      rendermime,
      themeManager,
      preferences,
      translator
    });
    sidebar.title.icon = tutorIcon;
    app.shell.add(sidebar, 'right', { rank: 50 });
    if (restorer) {
      restorer.add(sidebar, PANEL_ID);
    }

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(pluginSettings => preferences.attach(pluginSettings))
        .catch(reason => {
          console.error('ltt-ext: could not load the tutor settings.', reason);
        });
    }

    const availability = new TutorAvailability();
    client
      .info()
      .then(info => {
        availability.state = 'enabled';
        sidebar.info = info;
        sidebar.globalNotice = null;
      })
      .catch(err => {
        // 503: the tutor is turned off on this server; 404: no tutor server extension.
        if (
          err instanceof TutorApiError &&
          (err.status === 503 || err.status === 404)
        ) {
          availability.state = 'disabled';
        }
        sidebar.globalNotice = {
          kind: 'unavailable',
          text: trans.__('The tutor is unavailable: %1', err?.message ?? err)
        };
      });

    // Follow the active notebook; each notebook keeps its own conversation.
    const tracked = new Set<NotebookPanel>();
    let watchedSession: NotebookPanel | null = null;
    const onKernelStatus = () => {
      const panel = watchedSession;
      sidebar.kernelState = panel
        ? panel.sessionContext.session?.kernel
          ? panel.sessionContext.kernelDisplayStatus
          : null
        : null;
    };
    const follow = (panel: NotebookPanel | null) => {
      if (watchedSession) {
        watchedSession.sessionContext.statusChanged.disconnect(onKernelStatus);
        watchedSession.sessionContext.kernelChanged.disconnect(onKernelStatus);
      }
      watchedSession = panel;
      if (!panel) {
        sidebar.showNotebook(null);
        sidebar.kernelState = null;
        return;
      }
      panel.sessionContext.statusChanged.connect(onKernelStatus);
      panel.sessionContext.kernelChanged.connect(onKernelStatus);
      void panel.context.ready.then(() => {
        if (watchedSession === panel && !panel.isDisposed) {
          sidebar.showNotebook(apiPath(app, panel));
          onKernelStatus();
        }
      });
      if (!tracked.has(panel)) {
        tracked.add(panel);
        panel.disposed.connect(() => {
          tracked.delete(panel);
          const path = apiPath(app, panel);
          const stillOpen = Array.from(tracked).some(
            p => apiPath(app, p) === path
          );
          if (!stillOpen) {
            sidebar.drop(path);
          }
          if (watchedSession === panel) {
            follow(tracker.currentWidget);
          }
        });
        panel.context.pathChanged.connect(() => {
          if (watchedSession === panel) {
            sidebar.showNotebook(apiPath(app, panel));
          }
        });
      }
    };
    tracker.currentChanged.connect((_, panel) => follow(panel));
    follow(tracker.currentWidget);

    // A terminal brought to the front shows its own conversation; back on a notebook, the
    // notebook's again (terminal.ts).
    followTerminals(
      app,
      name => {
        follow(null);
        sidebar.showNotebook(terminalConversation(name));
      },
      widget => {
        if (widget && widget === tracker.currentWidget) {
          follow(tracker.currentWidget);
        }
      }
    );

    const openSidebar = () => {
      app.shell.activateById(sidebar.id);
    };

    // A hint the tutor gives by itself opens the panel (if the learner has it closed).
    sidebar.hintArrived.connect(() => {
      if (preferences.openOnHint && !sidebar.isVisible) {
        openSidebar();
      }
    });

    /** Open the panel on a notebook with one of its cells as context. */
    const askAbout = (panel: NotebookPanel, cell: Cell, prompt: string) => {
      follow(panel);
      void panel.context.ready.then(() => {
        const path = apiPath(app, panel);
        sidebar.showNotebook(path);
        const model = sidebar.ensure(path);
        model.contextCell = {
          id: cell.model.id,
          label: cellLabel(panel, cell, trans)
        };
        openSidebar();
        // Let the sidebar attach before focusing its input.
        requestAnimationFrame(() => sidebar.prefill(prompt));
      });
    };

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open the Tutor'),
      caption: trans.__('Show the tutor chat for the current notebook'),
      icon: tutorIcon,
      describedBy: NO_ARGS,
      execute: () => openSidebar()
    });

    app.commands.addCommand(CommandIDs.askCell, {
      label: trans.__('Ask the Tutor About This Cell'),
      caption: trans.__('Open the tutor chat with the active cell as context'),
      icon: tutorIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            prompt: {
              type: 'string',
              description: trans.__(
                "Text put in the tutor's input box (not sent), e.g. a question about the cell"
              )
            }
          }
        }
      },
      isEnabled: () => !!tracker.currentWidget?.content.activeCell,
      isVisible: () => availability.state !== 'disabled',
      execute: args => {
        const panel = tracker.currentWidget;
        const cell = panel?.content.activeCell;
        if (!panel || !cell) {
          return;
        }
        const prompt = typeof args.prompt === 'string' ? args.prompt : '';
        askAbout(panel, cell, prompt);
      }
    });

    app.commands.addCommand(CommandIDs.more, {
      label: trans.__('Tutor: More Help'),
      caption: trans.__('Climb the hint ladder for the latest error'),
      icon: tutorIcon,
      describedBy: NO_ARGS,
      isEnabled: () => !!sidebar.currentModel,
      execute: async () => {
        openSidebar();
        await sidebar.currentModel?.more();
      }
    });

    if (palette) {
      const category = trans.__('Tutor');
      palette.addItem({ command: CommandIDs.open, category });
      palette.addItem({ command: CommandIDs.askCell, category });
      palette.addItem({ command: CommandIDs.more, category });
    }
    app.contextMenu.addItem({
      command: CommandIDs.askCell,
      selector: '.jp-Notebook .jp-Cell',
      rank: 0
    });

    // "Ask the tutor" on error outputs.
    rendermime.addFactory(
      createErrorRendererFactory(
        (origin, error) => {
          const cellNode = origin.closest('.jp-Cell');
          const panel = cellNode
            ? tracker.find(p => p.content.node.contains(cellNode))
            : undefined;
          const cell = panel?.content.widgets.find(w => w.node === cellNode);
          if (!panel || !cell) {
            openSidebar();
            return;
          }
          panel.content.activeCellIndex = panel.content.widgets.indexOf(cell);
          const prompt = !error.ename
            ? trans.__('Why do I get this error?')
            : error.evalue
              ? trans.__('Why do I get %1: %2?', error.ename, error.evalue)
              : trans.__('Why do I get %1?', error.ename);
          askAbout(panel, cell, prompt);
        },
        availability,
        translator
      ),
      20
    );
  }
};

export default [plugin, stdinPlugin];
