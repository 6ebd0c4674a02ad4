/**
 * The right-sidebar tutor panel: a header (which notebook, which engine, status, notices,
 * the cell in context) above one @jupyter/chat widget per notebook.
 */
import {
  buildChatSidebar,
  ChatWidget,
  InputToolbarRegistry,
  IMessagePreambleRegistry,
  MessagePreambleProps,
  MessagePreambleRegistry,
  TooltippedButton,
  TooltippedIconButton
} from '@jupyter/chat';
import { IThemeManager, ReactWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Panel, Widget } from '@lumino/widgets';
import { Signal } from '@lumino/signaling';
import StopIcon from '@mui/icons-material/Stop';
import * as React from 'react';

import { ITutorInfo, ITutorMessage, TutorClient } from './api';
import { TRANSLATION_DOMAIN } from './i18n';
import { TutorChatModel } from './model';
import { LocalOnlySanitizer } from './sanitizer';
import { TutorPreferences } from './settings';
import { conversationLabel } from './terminal';
import { createInterruptPreamble } from './watchdog';
import { InterruptPermission } from './permissions';
import { attachTryIt, serverTryRunner } from './tryit';

export const PANEL_ID = 'ltt-tutor-panel';

function defaultBundle(): TranslationBundle {
  return nullTranslator.load(TRANSLATION_DOMAIN);
}

/** The name of a hint-ladder level ("nudge", "hint", "explanation"). */
function levelName(level: number, trans: TranslationBundle): string {
  switch (level) {
    case 1:
      return trans.__('nudge');
    case 2:
      return trans.__('hint');
    case 3:
      return trans.__('explanation');
    default:
      return String(level);
  }
}

export function engineLabel(
  info: ITutorInfo | null,
  trans: TranslationBundle = defaultBundle()
): string {
  if (!info) {
    return trans.__('unknown');
  }
  if (info.engine === 'builtin') {
    return trans.__('built-in tutor');
  }
  if (info.engine === 'llm') {
    return info.model ? trans.__('LLM · %1', info.model) : trans.__('LLM');
  }
  return String(info.engine);
}

export function kernelLabel(
  state: string | null,
  trans: TranslationBundle = defaultBundle()
): string {
  if (!state) {
    return trans.__('no kernel');
  }
  if (state === 'busy') {
    return trans.__('kernel busy');
  }
  if (state === 'idle') {
    return trans.__('kernel idle');
  }
  return trans.__('kernel %1', state);
}

/** The badge's words for a tutor message: its kind (and level), and how it ended. */
export function badgeLabels(
  meta: { kind: string; level?: number | null; status: string },
  trans: TranslationBundle = defaultBundle()
): { kind: string | null; status: string | null } {
  let kind: string | null = null;
  if (meta.kind === 'hint') {
    kind = meta.level
      ? trans.__(
          'Hint · level %1 (%2)',
          meta.level,
          levelName(meta.level, trans)
        )
      : trans.__('Hint');
  } else if (meta.kind === 'answer') {
    kind = meta.level
      ? trans.__(
          'Answer · level %1 (%2)',
          meta.level,
          levelName(meta.level, trans)
        )
      : trans.__('Answer');
  } else if (meta.kind === 'watchdog') {
    kind = trans.__('Runaway cell');
  } else if (meta.kind === 'notice') {
    kind = trans.__('Notice');
  }
  let status: string | null = null;
  if (meta.status === 'streaming') {
    status = trans.__('answering…');
  } else if (meta.status === 'stopped') {
    status = trans.__('stopped');
  } else if (meta.status === 'error') {
    status = trans.__('could not finish');
  }
  return { kind, status };
}

/** The badge above a tutor message: what kind of message it is, and how it ended. */
function createMessageBadge(
  trans: TranslationBundle
): (props: MessagePreambleProps) => JSX.Element | null {
  return function MessageBadge(props: MessagePreambleProps) {
    const meta = props.message.metadata?.ltt;
    if (!meta || meta.role === 'learner') {
      return null;
    }
    const { kind, status } = badgeLabels(meta, trans);
    if (!kind && !status) {
      return null;
    }
    return (
      <div className="ltt-MessageBadge" data-kind={meta.kind}>
        {kind && (
          <span className={`ltt-Badge ltt-Badge-${meta.kind}`}>{kind}</span>
        )}
        {status && (
          <span
            className={`ltt-Badge ltt-Badge-status ltt-Badge-${meta.status}`}
            data-status={meta.status}
          >
            {status}
          </span>
        )}
      </div>
    );
  };
}

interface IToolbarButtonProps extends InputToolbarRegistry.IToolbarItemProps {
  trans: TranslationBundle;
}

function StopTutorButton(props: IToolbarButtonProps): JSX.Element {
  const model = props.chatModel as TutorChatModel | undefined;
  const [streaming, setStreaming] = React.useState(
    (model?.streamingIds.length ?? 0) > 0
  );
  React.useEffect(() => {
    if (!model) {
      return;
    }
    const changed = () => setStreaming(model.streamingIds.length > 0);
    changed();
    model.stateChanged.connect(changed);
    return () => {
      model.stateChanged.disconnect(changed);
    };
  }, [model]);
  const tooltip = props.trans.__("Stop the tutor's answer");
  return (
    <TooltippedIconButton
      onClick={() => void model?.stop()}
      tooltip={tooltip}
      disabled={!streaming}
      aria-label={tooltip}
      buttonProps={{
        title: tooltip,
        className: 'ltt-StopButton',
        'aria-label': tooltip
      }}
    >
      <StopIcon />
    </TooltippedIconButton>
  );
}

function MoreHelpButton(props: IToolbarButtonProps): JSX.Element {
  const model = props.chatModel as TutorChatModel | undefined;
  const tooltip = props.trans.__('More help: the next step of the hint ladder');
  return (
    <TooltippedButton
      onClick={() => void model?.more()}
      tooltip={tooltip}
      aria-label={tooltip}
      inputToolbar={false}
      sx={{
        textTransform: 'none',
        whiteSpace: 'nowrap',
        minWidth: 'auto',
        width: 'auto',
        height: '24px',
        padding: '0 8px',
        lineHeight: '20px',
        fontSize: 'var(--jp-ui-font-size1)',
        color: 'var(--jp-brand-color1)',
        borderColor: 'var(--jp-brand-color1)'
      }}
      buttonProps={{
        title: tooltip,
        className: 'ltt-MoreHelpButton',
        'aria-label': tooltip,
        size: 'small',
        variant: 'outlined'
      }}
    >
      <span>{props.trans.__('More help')}</span>
    </TooltippedButton>
  );
}

function createToolbarRegistry(trans: TranslationBundle): InputToolbarRegistry {
  const registry = InputToolbarRegistry.defaultToolbarRegistry();
  // Attachments are not part of the tutor API.
  registry.hide('attach');
  const more = (props: InputToolbarRegistry.IToolbarItemProps) => (
    <MoreHelpButton {...props} trans={trans} />
  );
  const stop = (props: InputToolbarRegistry.IToolbarItemProps) => (
    <StopTutorButton {...props} trans={trans} />
  );
  registry.addItem('ltt-more', { element: more, position: 30 });
  registry.addItem('ltt-stop', { element: stop, position: 90 });
  return registry;
}

function welcomeMessage(trans: TranslationBundle): string {
  return (
    trans.__(
      'Ask about your notebook: I point you in the right direction rather than handing out solutions. When a cell fails I leave a hint here by myself; **More help** takes the next step. _Enter sends, Shift+Enter adds a line._'
    ) + '\n'
  );
}

/** The header above the chat. */
class TutorHeader extends ReactWidget {
  constructor(
    private _sidebar: TutorSidebar,
    private _trans: TranslationBundle
  ) {
    super();
    this.addClass('ltt-TutorHeader');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', _trans.__('Tutor status'));
  }

  render(): JSX.Element {
    const trans = this._trans;
    const sidebar = this._sidebar;
    const preferences = sidebar.preferences;
    const model = sidebar.currentModel;
    const info = model?.info ?? sidebar.info;
    const kernel = sidebar.kernelState ?? model?.serverKernelState ?? null;
    const notice = model?.notice ?? sidebar.globalNotice;
    const connection = model?.connection ?? null;
    return (
      <>
        <div className="ltt-TutorHeader-title">
          <span className="ltt-TutorHeader-name">{trans.__('Tutor')}</span>
          <span
            className="ltt-TutorHeader-notebook"
            title={model?.path ?? ''}
            aria-label={
              model
                ? trans.__('Conversation about %1', model.path)
                : trans.__('No notebook open')
            }
          >
            {model
              ? conversationLabel(model.path, trans)
              : trans.__('no notebook')}
          </span>
        </div>
        <div className="ltt-TutorHeader-meta">
          <span
            className="ltt-TutorHeader-engine"
            title={trans.__('Who answers')}
          >
            {trans.__('Engine: %1', engineLabel(info, trans))}
          </span>
        </div>
        {info?.consent_required && (
          <label className="ltt-Consent">
            <input
              type="checkbox"
              checked={preferences.consent}
              onChange={event => {
                void preferences.setConsent(event.currentTarget.checked);
              }}
            />
            <span>{trans.__('Share my notebook with the AI tutor')}</span>
          </label>
        )}
        {info?.engine === 'llm' && model?.path.endsWith('.ipynb') && (
          <InterruptPermission
            path={model.path}
            settings={sidebar.serverSettings}
            trans={trans}
          />
        )}
        {model && (
          <div
            className="ltt-TutorHeader-status"
            role="status"
            aria-live="polite"
          >
            <span
              className={`ltt-Pill ltt-Connection ltt-mod-${connection}`}
              data-connection={connection}
            >
              {connection === 'live'
                ? trans.__('live')
                : connection === 'reconnecting'
                  ? trans.__('reconnecting…')
                  : connection === 'connecting'
                    ? trans.__('connecting…')
                    : trans.__('offline')}
            </span>
            <span
              className={`ltt-Pill ltt-KernelState ltt-mod-${kernel ?? 'none'}`}
              data-kernel-state={kernel ?? ''}
            >
              {kernelLabel(kernel, trans)}
            </span>
            {model.thinking && (
              <span className="ltt-Pill ltt-Thinking">
                {trans.__('tutor thinking…')}
              </span>
            )}
          </div>
        )}
        {notice && (
          <div
            className={`ltt-Notice ltt-Notice-${notice.kind}`}
            role="alert"
            data-notice={notice.kind}
          >
            <span>{notice.text}</span>
            {model && model.notice && (
              <button
                className="ltt-Notice-dismiss"
                aria-label={trans.__('Dismiss this message')}
                title={trans.__('Dismiss')}
                onClick={() => (model.notice = null)}
              >
                ×
              </button>
            )}
          </div>
        )}
        {model?.contextCell && (
          <div className="ltt-ContextCell">
            <span>{trans.__('Asking about %1', model.contextCell.label)}</span>
            <button
              className="ltt-ContextCell-clear"
              aria-label={trans.__('Stop asking about this cell')}
              title={trans.__('Stop asking about this cell')}
              onClick={() => (model.contextCell = null)}
            >
              ×
            </button>
          </div>
        )}
      </>
    );
  }
}

interface IEntry {
  model: TutorChatModel;
  widget: ChatWidget;
}

/** The sidebar: header + the chat of the current notebook. */
export class TutorSidebar extends Panel {
  constructor(options: TutorSidebar.IOptions) {
    super();
    this.id = PANEL_ID;
    this.addClass('ltt-TutorPanel');
    this._translator = options.translator ?? nullTranslator;
    const trans = (this._trans = this._translator.load(TRANSLATION_DOMAIN));
    this.title.caption = trans.__('Tutor');
    this.node.setAttribute('aria-label', trans.__('Tutor chat'));
    this._client = options.client;
    this.preferences = options.preferences ?? new TutorPreferences();
    this.preferences.changed.connect(this._onPreferences, this);
    // LLM text: rendered with nothing loaded from other origins (see sanitizer.ts).
    this._rendermime = options.rendermime.clone({
      sanitizer: new LocalOnlySanitizer(
        options.rendermime.sanitizer,
        options.client.settings.baseUrl,
        trans
      )
    });
    this._themeManager = options.themeManager ?? null;
    this._preambles = new MessagePreambleRegistry();
    this._preambles.addComponent(createMessageBadge(trans));
    this._preambles.addComponent(createInterruptPreamble(trans)); // watchdog.tsx
    this._header = new TutorHeader(this, trans);
    this.addWidget(this._header);
    this._stack = new Panel();
    this._stack.addClass('ltt-TutorPanel-stack');
    this.addWidget(this._stack);
    this._empty = new Widget();
    this._empty.addClass('ltt-TutorPanel-empty');
    this._empty.node.textContent = trans.__(
      'Open a notebook: the tutor follows the notebook you are working on.'
    );
    this._stack.addWidget(this._empty);
    this._applyFontSize();
  }

  /** The panel's settings (consent, font size, opening on a hint). */
  readonly preferences: TutorPreferences;

  /** How the panel reaches the server (token, XSRF): for the header's permission checkbox. */
  get serverSettings(): ServerConnection.ISettings {
    return this._client.settings;
  }

  get info(): ITutorInfo | null {
    return this._info;
  }
  set info(value: ITutorInfo | null) {
    this._info = value;
    for (const entry of this._entries.values()) {
      if (!entry.model.info) {
        entry.model.info = value;
      }
    }
    this._header.update();
  }

  get globalNotice(): { kind: 'unavailable'; text: string } | null {
    return this._globalNotice;
  }
  set globalNotice(value: { kind: 'unavailable'; text: string } | null) {
    this._globalNotice = value;
    this._header.update();
  }

  get kernelState(): string | null {
    return this._kernelState;
  }
  set kernelState(value: string | null) {
    this._kernelState = value;
    this._header.update();
  }

  get currentModel(): TutorChatModel | null {
    return this._current
      ? (this._entries.get(this._current)?.model ?? null)
      : null;
  }

  get currentWidget(): ChatWidget | null {
    return this._current
      ? (this._entries.get(this._current)?.widget ?? null)
      : null;
  }

  /** The model of a notebook path, created (and connected) on first use. */
  ensure(path: string): TutorChatModel {
    let entry = this._entries.get(path);
    if (!entry) {
      const preferences = this.preferences;
      const model = new TutorChatModel({
        path,
        client: this._client,
        info: this._info,
        consent: () => preferences.consent,
        translator: this._translator
      });
      const widget = buildChatSidebar({
        model,
        rmRegistry: this._rendermime,
        themeManager: this._themeManager,
        inputToolbarRegistry: createToolbarRegistry(this._trans),
        messagePreambleRegistry: this._preambles as IMessagePreambleRegistry,
        welcomeMessage: welcomeMessage(this._trans),
        area: 'sidebar'
      });
      widget.addClass('ltt-TutorChat');
      widget.node.dataset.path = path;
      widget.hide();
      this._stack.addWidget(widget);
      model.stateChanged.connect(this._onModelState, this);
      model.hintArrived.connect((m, hint) => {
        if (m.path === this._current) {
          this._hintArrived.emit(hint);
        }
      });
      entry = { model, widget };
      this._entries.set(path, entry);
      model.start();
      Private.labelInput(widget, this._trans);
      Private.keepNewestInView(widget, model);
      // "Try it" under the tutor's code examples: runs them in a sidecar kernel (tryit.ts).
      attachTryIt(widget, model, {
        run: serverTryRunner(this._client.settings),
        rendermime: this._rendermime,
        trans: this._trans,
        path: () => model.path
      });
    }
    return entry.model;
  }

  /** Show the conversation of a notebook (null: none). */
  showNotebook(path: string | null): void {
    if (path) {
      this.ensure(path);
    }
    this._current = path;
    for (const [p, entry] of this._entries) {
      entry.widget.setHidden(p !== path);
    }
    this._empty.setHidden(!!path);
    this._header.update();
    this._currentChanged.emit(path);
  }

  /** Forget a notebook's conversation (its notebook was closed). */
  drop(path: string): void {
    const entry = this._entries.get(path);
    if (!entry) {
      return;
    }
    this._entries.delete(path);
    entry.widget.dispose();
    entry.model.dispose();
    if (this._current === path) {
      this.showNotebook(null);
    }
  }

  /** Put text in the input and focus it. */
  prefill(text: string): void {
    const model = this.currentModel;
    if (!model) {
      return;
    }
    if (text && !model.input.value.trim()) {
      model.input.value = text;
    }
    model.input.focus();
  }

  /** A new hint for the notebook on show arrived live. */
  get hintArrived(): Signal<this, ITutorMessage> {
    return this._hintArrived;
  }

  get currentChanged(): Signal<this, string | null> {
    return this._currentChanged;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.preferences.changed.disconnect(this._onPreferences, this);
    for (const entry of this._entries.values()) {
      entry.model.stateChanged.disconnect(this._onModelState, this);
      entry.model.dispose();
    }
    this._entries.clear();
    super.dispose();
  }

  private _onModelState(model: TutorChatModel): void {
    if (model.path === this._current) {
      this._header.update();
    }
  }

  private _onPreferences(): void {
    this._applyFontSize();
    this._header.update();
  }

  /** The chat's font size from the settings (0: JupyterLab's own sizes). */
  private _applyFontSize(): void {
    const size = this.preferences.fontSize;
    if (size > 0) {
      this.node.style.setProperty('--ltt-chat-font-size', `${size}px`);
      this.node.dataset.fontSize = String(size);
    } else {
      this.node.style.removeProperty('--ltt-chat-font-size');
      delete this.node.dataset.fontSize;
    }
  }

  private _client: TutorClient;
  private _translator: ITranslator;
  private _trans: TranslationBundle;
  private _rendermime: IRenderMimeRegistry;
  private _themeManager: IThemeManager | null;
  private _preambles: MessagePreambleRegistry;
  private _header: TutorHeader;
  private _stack: Panel;
  private _empty: Widget;
  private _entries = new Map<string, IEntry>();
  private _current: string | null = null;
  private _info: ITutorInfo | null = null;
  private _globalNotice: { kind: 'unavailable'; text: string } | null = null;
  private _kernelState: string | null = null;
  private _currentChanged = new Signal<this, string | null>(this);
  private _hintArrived = new Signal<this, ITutorMessage>(this);
}

export namespace TutorSidebar {
  export interface IOptions {
    client: TutorClient;
    rendermime: IRenderMimeRegistry;
    themeManager?: IThemeManager | null;
    preferences?: TutorPreferences;
    translator?: ITranslator;
  }
}

namespace Private {
  /** Give the chat's text box a screen-reader label and a tutor-specific placeholder. */
  export function labelInput(
    widget: ChatWidget,
    trans: TranslationBundle
  ): void {
    const label = trans.__('Ask the tutor a question');
    const apply = (): boolean => {
      const box = widget.node.querySelector(
        'textarea:not([aria-hidden="true"])'
      );
      if (!box) {
        return false;
      }
      if (box.getAttribute('aria-label') === label) {
        return true;
      }
      box.setAttribute('aria-label', label);
      box.setAttribute('placeholder', trans.__('Ask the tutor…'));
      return true;
    };
    const observer = new MutationObserver(() => {
      apply();
    });
    observer.observe(widget.node, { childList: true, subtree: true });
    widget.disposed.connect(() => observer.disconnect());
  }

  /** How close (px) to the end of the conversation still counts as "reading the end". */
  const STICKY_DISTANCE = 48;

  /**
   * Keep the newest message entirely in view while the learner reads the end of the
   * conversation, and when they send something.
   *
   * @jupyter/chat pins its list to the bottom with CSS `overflow-anchor`, which only holds
   * once the list is already scrolled to its very end: a message that grows while it renders
   * (Markdown, a stream) or a list that starts to overflow leaves the end below the fold.
   * Here the content's size is watched and the list follows it, unless the learner scrolled
   * up to read older messages.
   */
  export function keepNewestInView(
    widget: ChatWidget,
    model: TutorChatModel
  ): void {
    let scroller: HTMLElement | null = null;
    let content: HTMLElement | null = null;
    let sticky = true;

    const toEnd = () => {
      if (scroller && sticky && widget.isVisible) {
        scroller.scrollTop = scroller.scrollHeight;
      }
    };
    const onScroll = () => {
      if (scroller) {
        sticky =
          scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <=
          STICKY_DISTANCE;
      }
    };
    const resized = new ResizeObserver(() => toEnd());

    const find = () => {
      const box = widget.node.querySelector<HTMLElement>(
        '.jp-chat-messages-container'
      );
      const list = box?.closest<HTMLElement>(
        '[id^="jupyter-chat-scroll-container-"]'
      );
      if (!box || !list || (box === content && list === scroller)) {
        return;
      }
      scroller?.removeEventListener('scroll', onScroll);
      resized.disconnect();
      scroller = list;
      content = box;
      scroller.addEventListener('scroll', onScroll, { passive: true });
      // The list's content (messages growing) and the list itself (the input growing,
      // the panel resized or shown again).
      resized.observe(content);
      resized.observe(scroller);
      toEnd();
    };
    const mutations = new MutationObserver(find);
    mutations.observe(widget.node, { childList: true, subtree: true });
    find();

    // What the learner just sent is always brought into view.
    const onMessages = () => {
      const last = model.messages[model.messages.length - 1];
      if (last && last.sender.username === model.user.username) {
        sticky = true;
      }
      requestAnimationFrame(toEnd);
    };
    model.messagesUpdated.connect(onMessages);

    widget.disposed.connect(() => {
      mutations.disconnect();
      resized.disconnect();
      scroller?.removeEventListener('scroll', onScroll);
      model.messagesUpdated.disconnect(onMessages);
    });
  }
}
