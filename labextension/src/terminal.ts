/**
 * Terminal conversations: the tutor follows the learner's terminals too.
 *
 * A terminal's conversation is named `terminal:<name>` in the panel (its messages carry that
 * path); the server answers it on `ltt/api/tutor/terminal/*` with `?terminal=<name>` instead of
 * `?path=`. When a terminal is the current widget of the main area, the panel shows its
 * conversation, as it shows a notebook's.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

export const TERMINAL_PREFIX = 'terminal:';

/** The conversation path of a terminal. */
export function terminalConversation(name: string): string {
  return TERMINAL_PREFIX + name;
}

/** The terminal's name if `path` is a terminal conversation, else null. */
export function terminalName(path: string): string | null {
  return path.startsWith(TERMINAL_PREFIX)
    ? path.slice(TERMINAL_PREFIX.length)
    : null;
}

/** Where a conversation's requests go, and the field naming it. */
export function conversationTarget(path: string): {
  api: string;
  field: 'path' | 'terminal';
  value: string;
} {
  const name = terminalName(path);
  return name === null
    ? { api: '', field: 'path', value: path }
    : { api: 'terminal', field: 'terminal', value: name };
}

/** The header's words for a conversation ("Terminal 1", or the notebook path). */
export function conversationLabel(
  path: string,
  trans: TranslationBundle
): string {
  const name = terminalName(path);
  return name === null ? path : trans.__('Terminal %1', name);
}

/** The terminal name of a main-area widget, if it is a JupyterLab terminal. */
export function terminalOf(widget: Widget | null | undefined): string | null {
  if (!widget) {
    return null;
  }
  const content = (widget as any).content ?? widget;
  const session = content?.session;
  const isTerminal =
    content instanceof Widget && content.hasClass('jp-Terminal');
  const name = session?.name;
  return isTerminal && typeof name === 'string' && name ? name : null;
}

/**
 * Follow the main area: a terminal brought to the front shows its conversation; any other
 * widget is handed to `onOther` (the notebook follower decides). Returns a disconnector.
 */
export function followTerminals(
  app: JupyterFrontEnd,
  onTerminal: (name: string) => void,
  onOther: (widget: Widget | null) => void
): () => void {
  const shell = app.shell as JupyterFrontEnd.IShell & {
    currentChanged?: {
      connect: (fn: (sender: any, args: any) => void) => boolean;
      disconnect: (fn: (sender: any, args: any) => void) => boolean;
    };
  };
  const signal = shell.currentChanged;
  if (!signal) {
    return () => undefined;
  }
  const changed = (_: unknown, args: { newValue?: Widget | null } | null) => {
    const widget = args?.newValue ?? shell.currentWidget ?? null;
    const name = terminalOf(widget);
    if (name) {
      onTerminal(name);
    } else {
      onOther(widget);
    }
  };
  signal.connect(changed);
  return () => {
    signal.disconnect(changed);
  };
}
