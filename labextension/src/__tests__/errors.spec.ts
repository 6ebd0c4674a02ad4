/**
 * "Ask the tutor" under error outputs: shown under a notebook's errors while the tutor is on,
 * hidden in consoles and when the server says the tutor is off.
 */
import { IRenderMime, MimeModel } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import {
  createErrorRendererFactory,
  ERROR_MIME,
  TutorAvailability,
  TutorErrorRenderer
} from '../errors';

const options: IRenderMime.IRendererOptions = {
  mimeType: ERROR_MIME,
  sanitizer: { sanitize: (html: string) => html },
  resolver: null,
  linkHandler: null,
  latexTypesetter: null
};

const errorModel = () =>
  new MimeModel({
    data: {
      [ERROR_MIME]: {
        ename: 'NameError',
        evalue: "name 'y' is not defined",
        traceback: ["NameError: name 'y' is not defined"]
      }
    }
  });

/** A host standing for a notebook (or a console) in the page. */
function host(className: string): Widget {
  const widget = new Widget();
  widget.addClass(className);
  Widget.attach(widget, document.body);
  return widget;
}

function button(renderer: Widget): HTMLButtonElement {
  return renderer.node.querySelector(
    '.ltt-AskTutorButton'
  ) as HTMLButtonElement;
}

describe('TutorErrorRenderer', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('renders the traceback and asks about the error', async () => {
    const asked: Array<{ ename?: string; evalue?: string }> = [];
    const factory = createErrorRendererFactory((_, e) => asked.push(e));
    expect(factory.mimeTypes).toEqual([ERROR_MIME]);
    const renderer = factory.createRenderer(options) as TutorErrorRenderer;
    await renderer.renderModel(errorModel());
    expect(renderer.node.textContent).toContain("name 'y' is not defined");
    button(renderer).click();
    expect(asked).toEqual([
      { ename: 'NameError', evalue: "name 'y' is not defined" }
    ]);
    renderer.dispose();
  });

  it('shows the button in a notebook until the tutor is known to be off', async () => {
    const availability = new TutorAvailability();
    const notebook = host('jp-Notebook');
    const renderer = new TutorErrorRenderer(options, () => 0, availability);
    await renderer.renderModel(errorModel());
    Widget.attach(renderer, notebook.node);
    expect(button(renderer).hidden).toBe(false);

    availability.state = 'enabled';
    expect(button(renderer).hidden).toBe(false);
    availability.state = 'disabled';
    expect(button(renderer).hidden).toBe(true);

    // A renderer made while the tutor is off starts hidden.
    const later = new TutorErrorRenderer(options, () => 0, availability);
    Widget.attach(later, notebook.node);
    expect(button(later).hidden).toBe(true);
    renderer.dispose();
    later.dispose();
    // Disposed renderers no longer listen.
    availability.state = 'enabled';
  });

  it('hides the button outside notebooks', () => {
    const console = host('jp-CodeConsole');
    const renderer = new TutorErrorRenderer(options, () => 0);
    Widget.attach(renderer, console.node);
    expect(button(renderer).hidden).toBe(true);
    renderer.dispose();
  });
});
