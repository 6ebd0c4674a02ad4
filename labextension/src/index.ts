/**
 * ltt-ext front end: the tutor chat in the right sidebar, following the active notebook,
 * plus "Ask the tutor" on error outputs and on cells.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';

import { TutorClient } from './api';
import { createErrorRendererFactory } from './errors';
import { PANEL_ID, TutorSidebar } from './panel';
import { stdinPlugin } from './stdin';

import '../style/index.css';

export { TutorClient } from './api';
export { TutorChatModel, toChatContent, backoffDelay } from './model';
export { TutorSidebar, engineLabel, kernelLabel } from './panel';

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

function cellLabel(panel: NotebookPanel, cell: Cell): string {
  const index = panel.content.widgets.indexOf(cell);
  const count =
    cell.model.type === 'code'
      ? (cell.model as any).executionCount ?? null
      : null;
  return count ? `cell [${count}]` : `cell ${index + 1}`;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'ltt-ext:plugin',
  description: "The learner's tutor chat in the right sidebar.",
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette, IThemeManager, ILayoutRestorer, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    themeManager: IThemeManager | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings = ServerConnection.makeSettings();
    const client = new TutorClient(settings);
    const sidebar = new TutorSidebar({ client, rendermime, themeManager });
    sidebar.title.icon = tutorIcon;
    app.shell.add(sidebar, 'right', { rank: 50 });
    if (restorer) {
      restorer.add(sidebar, PANEL_ID);
    }

    client
      .info()
      .then(info => {
        sidebar.info = info;
        sidebar.globalNotice = null;
      })
      .catch(err => {
        sidebar.globalNotice = {
          kind: 'unavailable',
          text: `The tutor is unavailable: ${err?.message ?? err}`
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

    const openSidebar = () => {
      app.shell.activateById(sidebar.id);
    };

    // A hint the tutor gives by itself opens the panel (if the learner has it closed).
    sidebar.hintArrived.connect(() => {
      if (!sidebar.isVisible) {
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
        model.contextCell = { id: cell.model.id, label: cellLabel(panel, cell) };
        openSidebar();
        // Let the sidebar attach before focusing its input.
        requestAnimationFrame(() => sidebar.prefill(prompt));
      });
    };

    app.commands.addCommand(CommandIDs.open, {
      label: 'Open the Tutor',
      caption: 'Show the tutor chat for the current notebook',
      icon: tutorIcon,
      execute: () => openSidebar()
    });

    app.commands.addCommand(CommandIDs.askCell, {
      label: 'Ask the Tutor About This Cell',
      caption: 'Open the tutor chat with the active cell as context',
      icon: tutorIcon,
      isEnabled: () => !!tracker.currentWidget?.content.activeCell,
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
      label: 'Tutor: More Help',
      caption: 'Climb the hint ladder for the latest error',
      icon: tutorIcon,
      isEnabled: () => !!sidebar.currentModel,
      execute: async () => {
        openSidebar();
        await sidebar.currentModel?.more();
      }
    });

    if (palette) {
      const category = 'Tutor';
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
      createErrorRendererFactory((origin, error) => {
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
        const what = error.ename
          ? `${error.ename}${error.evalue ? `: ${error.evalue}` : ''}`
          : 'this error';
        askAbout(panel, cell, `Why do I get ${what}?`);
      }),
      20
    );
  }
};

export default [plugin, stdinPlugin];
