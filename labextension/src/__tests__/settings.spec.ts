/**
 * The panel's settings: defaults, the registry's values and changes, and the one-time move
 * of the consent older versions kept in local storage.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import {
  DEFAULT_SETTINGS,
  LEGACY_CONSENT_KEY,
  normalizeSettings,
  TutorPreferences
} from '../settings';

/** The part of ISettingRegistry.ISettings the preferences use. */
class FakeSettings {
  constructor(public user: Record<string, unknown> = {}) {}
  changed = new Signal<FakeSettings, void>(this);
  get composite(): Record<string, unknown> {
    return { ...DEFAULT_SETTINGS, ...this.user };
  }
  async set(key: string, value: unknown): Promise<void> {
    this.user = { ...this.user, [key]: value };
    this.changed.emit();
  }
}

function memoryStorage(values: Record<string, string> = {}): Storage {
  const data = new Map(Object.entries(values));
  return {
    get length() {
      return data.size;
    },
    clear: () => data.clear(),
    getItem: (k: string) => data.get(k) ?? null,
    key: (i: number) => Array.from(data.keys())[i] ?? null,
    removeItem: (k: string) => void data.delete(k),
    setItem: (k: string, v: string) => void data.set(k, v)
  };
}

const asSettings = (s: FakeSettings) =>
  s as unknown as ISettingRegistry.ISettings;

describe('TutorPreferences', () => {
  it('starts from the defaults', () => {
    const prefs = new TutorPreferences({ storage: null });
    expect(prefs.values).toEqual({
      openOnHint: true,
      shareNotebook: false,
      fontSize: 0
    });
  });

  it('follows the settings and their changes', async () => {
    const prefs = new TutorPreferences({ storage: memoryStorage() });
    const settings = new FakeSettings({ fontSize: 16, openOnHint: false });
    const seen: number[] = [];
    prefs.changed.connect((_, v) => seen.push(v.fontSize));
    await prefs.attach(asSettings(settings));
    expect(prefs.fontSize).toBe(16);
    expect(prefs.openOnHint).toBe(false);
    await settings.set('fontSize', 20);
    expect(prefs.fontSize).toBe(20);
    await settings.set('openOnHint', false); // no change: no signal
    expect(seen).toEqual([16, 20]);
    prefs.dispose();
  });

  it('keeps the consent in the settings once attached', async () => {
    const storage = memoryStorage();
    const prefs = new TutorPreferences({ storage });
    const settings = new FakeSettings();
    await prefs.attach(asSettings(settings));
    await prefs.setConsent(true);
    expect(settings.user.shareNotebook).toBe(true);
    expect(prefs.consent).toBe(true);
    expect(storage.getItem(LEGACY_CONSENT_KEY)).toBeNull();
  });

  it('takes a consent back when the settings cannot be saved', async () => {
    const prefs = new TutorPreferences({ storage: null });
    const settings = new FakeSettings();
    await prefs.attach(asSettings(settings));
    settings.set = async () => {
      throw new Error('read-only settings');
    };
    const seen: boolean[] = [];
    prefs.changed.connect((_, v) => seen.push(v.shareNotebook));
    const error = jest.spyOn(console, 'error').mockImplementation(() => 0);
    await prefs.setConsent(true);
    expect(seen).toEqual([true, false]);
    expect(prefs.consent).toBe(false);
    error.mockRestore();
  });

  it('moves a consent from local storage into the settings once', async () => {
    const storage = memoryStorage({ [LEGACY_CONSENT_KEY]: 'yes' });
    const prefs = new TutorPreferences({ storage });
    expect(prefs.consent).toBe(true); // before the settings load, too
    const settings = new FakeSettings();
    await prefs.attach(asSettings(settings));
    expect(settings.user.shareNotebook).toBe(true);
    expect(storage.getItem(LEGACY_CONSENT_KEY)).toBeNull();
    expect(prefs.consent).toBe(true);
  });

  it('does not override a consent the user already set in the settings', async () => {
    const storage = memoryStorage({ [LEGACY_CONSENT_KEY]: 'yes' });
    const prefs = new TutorPreferences({ storage });
    const settings = new FakeSettings({ shareNotebook: false });
    await prefs.attach(asSettings(settings));
    expect(prefs.consent).toBe(false);
    expect(storage.getItem(LEGACY_CONSENT_KEY)).toBeNull();
  });

  it('keeps the consent in local storage without a setting registry', async () => {
    const storage = memoryStorage();
    const prefs = new TutorPreferences({ storage });
    await prefs.setConsent(true);
    expect(storage.getItem(LEGACY_CONSENT_KEY)).toBe('yes');
    expect(new TutorPreferences({ storage }).consent).toBe(true);
  });
});

describe('normalizeSettings', () => {
  it('keeps values in range and falls back to the defaults', () => {
    expect(normalizeSettings({ fontSize: 200 }).fontSize).toBe(48);
    expect(normalizeSettings({ fontSize: -3 }).fontSize).toBe(0);
    expect(normalizeSettings({ fontSize: 'x' }).fontSize).toBe(0);
    expect(normalizeSettings({ openOnHint: 'no' }).openOnHint).toBe(true);
    expect(normalizeSettings({ shareNotebook: true }).shareNotebook).toBe(true);
  });
});
