/**
 * input() in cells the server runs for this notebook (jupyter-server-documents runs cells
 * with a REST request, so no kernel future of this page waits for the prompt).
 *
 * The server is told which kernel websocket belongs to this notebook's document client;
 * it sends the prompts of runs made for this client to that websocket alone, with the
 * cell id at the end of the request's msg id. The prompt box is JupyterLab's own, in the
 * cell's output area, exactly as for a cell JupyterLab runs itself.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CodeCell } from '@jupyterlab/cells';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage, ServerConnection } from '@jupyterlab/services';

/** Marks the msg ids of the server's runs that may prompt (see ltt_ext/kernels/execute.py). */
const STDIN_PREFIX = 'ltt-stdin-';

/** The cell a server-made prompt belongs to, or null for any other prompt. */
export function promptCellId(parentMsgId: string | undefined): string | null {
  if (!parentMsgId || !parentMsgId.startsWith(STDIN_PREFIX)) {
    return null;
  }
  const hash = parentMsgId.lastIndexOf('#');
  return hash > 0 ? parentMsgId.slice(hash + 1) || null : null;
}

async function routeStdin(
  settings: ServerConnection.ISettings,
  kernel: Kernel.IKernelConnection,
  clientId: string
): Promise<void> {
  const url = URLExt.join(
    settings.baseUrl,
    'ltt/api/kernels',
    kernel.id,
    'stdin'
  );
  const response = await ServerConnection.makeRequest(
    url,
    {
      method: 'PUT',
      body: JSON.stringify({ client_id: clientId, session_id: kernel.clientId })
    },
    settings
  );
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
}

function watchNotebook(
  panel: NotebookPanel,
  settings: ServerConnection.ISettings
): void {
  let watched: Kernel.IKernelConnection | null = null;

  const onMessage = (
    kernel: Kernel.IKernelConnection,
    args: Kernel.IAnyMessageArgs
  ): void => {
    const msg = args.msg;
    if (
      args.direction !== 'recv' ||
      msg.channel !== 'stdin' ||
      msg.header.msg_type !== 'input_request'
    ) {
      return;
    }
    const cellId = promptCellId(
      (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id
    );
    const cell = panel.content.widgets.find(c => c.model.id === cellId);
    if (!cellId || !(cell instanceof CodeCell)) {
      return;
    }
    // The output area's own prompt box (protected in JupyterLab: it is what the output area
    // calls for the prompts of the cells it runs itself); the answer goes back to the kernel
    // through this websocket, with the prompt's request as its parent.
    const future = {
      sendInputReply: (
        content: KernelMessage.IInputReplyMsg['content'],
        parent: KernelMessage.IInputReplyMsg['parent_header']
      ) => kernel.sendInputReply(content, parent)
    };
    (cell.outputArea as any).onInputRequest(msg, future);
  };

  const attach = async (): Promise<void> => {
    const kernel = panel.sessionContext.session?.kernel ?? null;
    if (watched !== kernel) {
      watched?.anyMessage.disconnect(onMessage);
      watched = kernel;
      kernel?.anyMessage.connect(onMessage);
    }
    const awareness = (panel.context.model.sharedModel as any).awareness;
    if (!kernel || awareness?.clientID === undefined) {
      return;
    }
    try {
      await routeStdin(settings, kernel, String(awareness.clientID));
    } catch (err) {
      console.warn(
        'ltt-ext: input() prompts will not reach this notebook:',
        err
      );
    }
  };

  panel.sessionContext.kernelChanged.connect(() => void attach());
  panel.sessionContext.connectionStatusChanged.connect((_, status) => {
    // A reconnected websocket may be a new one on the server side.
    if (status === 'connected') {
      void attach();
    }
  });
  void panel.context.ready.then(() => panel.sessionContext.ready).then(attach);
  panel.disposed.connect(() => watched?.anyMessage.disconnect(onMessage));
}

export const stdinPlugin: JupyterFrontEndPlugin<void> = {
  id: 'ltt-ext:stdin',
  description:
    'input() and getpass() in notebook cells the server runs: the prompt box in the cell.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const settings = app.serviceManager.serverSettings;
    tracker.widgetAdded.connect((_, panel) => watchNotebook(panel, settings));
  }
};
