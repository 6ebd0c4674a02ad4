/**
 * The runaway-cell watchdog in the panel: an **Interrupt** button on the tutor's warning
 * about a cell that runs silently for too long or floods its output, shown while that cell
 * still runs (the server's status names the warning: `TutorChatModel.runawayId`).
 */
import { MessagePreambleProps } from '@jupyter/chat';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { TutorChatModel } from './model';

interface IInterruptProps {
  model: TutorChatModel;
  messageId: string;
  trans: TranslationBundle;
}

/** Interrupt, while the warned-about cell runs; disabled while the request is in flight. */
export function InterruptButton(props: IInterruptProps): JSX.Element | null {
  const { model, messageId, trans } = props;
  const [active, setActive] = React.useState(model.runawayId === messageId);
  const [pending, setPending] = React.useState(false);
  React.useEffect(() => {
    const changed = () => setActive(model.runawayId === messageId);
    changed();
    model.stateChanged.connect(changed);
    return () => {
      model.stateChanged.disconnect(changed);
    };
  }, [model, messageId]);
  if (!active) {
    return null;
  }
  const label = trans.__('Interrupt');
  const tooltip = trans.__('Stop the running cell (like ■ in the toolbar)');
  return (
    <button
      type="button"
      className="ltt-InterruptButton jp-mod-styled jp-mod-warn"
      title={tooltip}
      aria-label={tooltip}
      disabled={pending}
      onClick={async () => {
        setPending(true);
        try {
          await model.interrupt();
        } finally {
          setPending(false);
        }
      }}
    >
      {pending ? trans.__('Interrupting…') : label}
    </button>
  );
}

/** The preamble component: the button under a runaway-cell warning's badge. */
export function createInterruptPreamble(
  trans: TranslationBundle
): (props: MessagePreambleProps) => JSX.Element | null {
  return function RunawayInterrupt(props: MessagePreambleProps) {
    const meta = props.message.metadata?.ltt;
    if (!meta || meta.kind !== 'watchdog' || !props.message.id) {
      return null;
    }
    const model = props.model as TutorChatModel;
    if (typeof model.interrupt !== 'function') {
      return null;
    }
    return (
      <div className="ltt-Watchdog">
        <InterruptButton
          model={model}
          messageId={props.message.id}
          trans={trans}
        />
      </div>
    );
  };
}
