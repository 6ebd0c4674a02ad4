/**
 * The learner's permission for the AI tutor and their AI agents (MCP) to interrupt a runaway
 * cell of this notebook: a checkbox in the panel's header, kept on the server
 * (GET/PUT /ltt/api/tutor/permissions). The learner's own Interrupt is never gated by it.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

const ENDPOINT = 'ltt/api/tutor/permissions';

/** Read (``allow`` undefined) or set this notebook's permission; resolves to the server's value. */
export async function interruptPermission(
  settings: ServerConnection.ISettings,
  path: string,
  allow?: boolean
): Promise<boolean> {
  let url = URLExt.join(settings.baseUrl, ENDPOINT);
  const init: RequestInit = {};
  if (allow === undefined) {
    url += URLExt.objectToQueryString({ path });
  } else {
    init.method = 'PUT';
    init.body = JSON.stringify({ path, interrupt: allow });
  }
  const response = await ServerConnection.makeRequest(url, init, settings);
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
  const data = await response.json();
  return data.interrupt === true;
}

export interface IInterruptPermissionProps {
  path: string;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}

/** The checkbox; hidden until the server said what the permission is (and when it cannot). */
export function InterruptPermission(
  props: IInterruptPermissionProps
): JSX.Element | null {
  const { path, settings, trans } = props;
  const [allowed, setAllowed] = React.useState<boolean | null>(null);
  React.useEffect(() => {
    let live = true;
    setAllowed(null);
    interruptPermission(settings, path).then(
      value => live && setAllowed(value),
      () => live && setAllowed(null)
    );
    return () => {
      live = false;
    };
  }, [path, settings]);
  if (allowed === null) {
    return null;
  }
  return (
    <label
      className="ltt-InterruptPermission"
      title={trans.__(
        'When a cell runs away (an endless loop), the AI tutor and AI agents connected to this server may interrupt it for you. You can always interrupt it yourself.'
      )}
    >
      <input
        type="checkbox"
        checked={allowed}
        onChange={event => {
          const value = event.currentTarget.checked;
          setAllowed(value);
          interruptPermission(settings, path, value).then(
            saved => setAllowed(saved),
            () => setAllowed(!value)
          );
        }}
      />
      <span>{trans.__('Let the AI tutor stop a runaway cell for me')}</span>
    </label>
  );
}
