/**
 * The sidebar: one conversation per notebook, the header's words, and the settings it follows
 * (font size, the consent checkbox).
 */
import {
  RenderMimeRegistry,
  standardRendererFactories
} from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { TutorClient } from '../api';
import { TutorSidebar } from '../panel';
import { TutorPreferences } from '../settings';

class FakeSocket {
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  close(): void {
    /* nothing to close */
  }
}

const client = {
  settings: { WebSocket: FakeSocket, baseUrl: 'http://localhost/' },
  streamUrl: (path: string) => `ws://localhost/stream?path=${path}`,
  history: async () => [],
  ask: jest.fn(),
  more: jest.fn(),
  stop: jest.fn()
} as unknown as TutorClient;

/** The part of the plugin's settings the preferences read. */
class FakeSettings {
  user: Record<string, unknown> = {};
  changed = new Signal<FakeSettings, void>(this);
  get composite(): Record<string, unknown> {
    return this.user;
  }
  async set(key: string, value: unknown): Promise<void> {
    this.user = { ...this.user, [key]: value };
    this.changed.emit();
  }
}

/** Let React render. */
const settle = () => new Promise(resolve => setTimeout(resolve, 50));

describe('TutorSidebar', () => {
  let sidebar: TutorSidebar;
  let preferences: TutorPreferences;

  beforeAll(() => {
    // @jupyter/chat gives MUI's Autocomplete a textarea, and MUI says so on every render.
    const warn = console.warn;
    jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      if (!String(args[0]).includes('A textarea element was provided')) {
        warn(...args);
      }
    });
  });

  afterAll(() => {
    jest.restoreAllMocks();
  });

  beforeEach(() => {
    preferences = new TutorPreferences({ storage: null });
    sidebar = new TutorSidebar({
      client,
      rendermime: new RenderMimeRegistry({
        initialFactories: standardRendererFactories
      }),
      preferences
    });
    Widget.attach(sidebar, document.body);
  });

  afterEach(() => {
    sidebar.dispose();
    document.body.innerHTML = '';
  });

  it('follows the notebook on show, one conversation each', async () => {
    await settle();
    expect(sidebar.node.textContent).toContain('no notebook');
    sidebar.showNotebook('a.ipynb');
    sidebar.info = { engine: 'llm', model: 'fake-tutor' };
    sidebar.kernelState = 'busy';
    await settle();
    const header = sidebar.node.querySelector('.ltt-TutorHeader')!;
    expect(header.textContent).toContain('a.ipynb');
    expect(header.textContent).toContain('Engine: LLM · fake-tutor');
    expect(header.textContent).toContain('kernel busy');
    const first = sidebar.currentModel;
    expect(first?.path).toBe('a.ipynb');

    sidebar.showNotebook('b.ipynb');
    expect(sidebar.currentModel?.path).toBe('b.ipynb');
    expect(sidebar.ensure('a.ipynb')).toBe(first);
    sidebar.drop('b.ipynb');
    expect(sidebar.currentModel).toBeNull();
  });

  it('applies the font size setting', async () => {
    const settings = new FakeSettings();
    await preferences.attach(settings as unknown as ISettingRegistry.ISettings);
    expect(sidebar.node.dataset.fontSize).toBeUndefined();
    await settings.set('fontSize', 18);
    expect(sidebar.node.dataset.fontSize).toBe('18');
    expect(sidebar.node.style.getPropertyValue('--ltt-chat-font-size')).toBe(
      '18px'
    );
    await settings.set('fontSize', 0);
    expect(sidebar.node.dataset.fontSize).toBeUndefined();
  });

  it('shows the consent checkbox when the server asks for consent', async () => {
    sidebar.showNotebook('a.ipynb');
    sidebar.info = { engine: 'llm', consent_required: true };
    await settle();
    const box =
      sidebar.node.querySelector<HTMLInputElement>('.ltt-Consent input')!;
    expect(box.checked).toBe(false);
    box.click();
    await settle();
    expect(preferences.consent).toBe(true);
    expect(
      sidebar.node.querySelector<HTMLInputElement>('.ltt-Consent input')!
        .checked
    ).toBe(true);
  });
});
