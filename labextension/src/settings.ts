/**
 * The panel's settings (schema/plugin.json), read through JupyterLab's setting registry when
 * there is one; the learner's consent to share the notebook with a remote LLM lives there too,
 * so it is kept per user (on the server) rather than per browser.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

/** The settings of `ltt-ext:plugin` (see schema/plugin.json). */
export interface ITutorSettings {
  /** Open the panel when the tutor leaves a hint by itself. */
  openOnHint: boolean;
  /** The learner's consent to send notebook content to a remote LLM. */
  shareNotebook: boolean;
  /** Font size of the conversation in px; 0 follows JupyterLab. */
  fontSize: number;
}

export const DEFAULT_SETTINGS: Readonly<ITutorSettings> = {
  openOnHint: true,
  shareNotebook: false,
  fontSize: 0
};

/** Where versions up to 0.1 kept the consent (this browser only). */
export const LEGACY_CONSENT_KEY = 'ltt-ext:consent';

/** Read the consent kept by older versions: true/false, or null when there is none. */
function readLegacyConsent(storage: Storage | null): boolean | null {
  try {
    const value = storage?.getItem(LEGACY_CONSENT_KEY) ?? null;
    return value === null ? null : value === 'yes';
  } catch {
    return null;
  }
}

function browserStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** Clamp a settings value to what the schema allows (the registry validates, a caller may not). */
export function normalizeSettings(
  raw: Partial<Record<keyof ITutorSettings, unknown>>
): ITutorSettings {
  const bool = (value: unknown, fallback: boolean) =>
    typeof value === 'boolean' ? value : fallback;
  const size = Number(raw.fontSize);
  return {
    openOnHint: bool(raw.openOnHint, DEFAULT_SETTINGS.openOnHint),
    shareNotebook: bool(raw.shareNotebook, DEFAULT_SETTINGS.shareNotebook),
    fontSize:
      Number.isFinite(size) && size > 0 ? Math.min(48, Math.round(size)) : 0
  };
}

/**
 * The panel's preferences: the setting registry's values once loaded (and whenever they
 * change), the defaults until then. Without a setting registry the consent falls back to
 * this browser's local storage, as before.
 */
export class TutorPreferences {
  constructor(options: TutorPreferences.IOptions = {}) {
    this._storage =
      options.storage === undefined ? browserStorage() : options.storage;
    const legacy = readLegacyConsent(this._storage);
    if (legacy !== null) {
      this._values = { ...this._values, shareNotebook: legacy };
    }
  }

  get values(): Readonly<ITutorSettings> {
    return this._values;
  }

  get openOnHint(): boolean {
    return this._values.openOnHint;
  }

  get consent(): boolean {
    return this._values.shareNotebook;
  }

  get fontSize(): number {
    return this._values.fontSize;
  }

  /** Emitted when any value changes (the Settings Editor, the panel's checkbox, another tab). */
  get changed(): ISignal<this, Readonly<ITutorSettings>> {
    return this._changed;
  }

  /**
   * Record the learner's consent (in the user's settings when there are settings). The new
   * value holds at once; if the settings cannot be saved, the previous one comes back.
   */
  async setConsent(value: boolean): Promise<void> {
    const before = this._values;
    this._update({ ...before, shareNotebook: value });
    if (this._settings) {
      try {
        await this._settings.set('shareNotebook', value);
      } catch (reason) {
        console.error('ltt-ext: could not save the consent.', reason);
        this._update(before);
      }
      return;
    }
    try {
      this._storage?.setItem(LEGACY_CONSENT_KEY, value ? 'yes' : 'no');
    } catch {
      /* private mode: consent lasts for this page only */
    }
  }

  /**
   * Follow the plugin's settings. A consent left in local storage by an older version is
   * moved into the user's settings once (unless the user already set one there), then removed.
   */
  async attach(settings: ISettingRegistry.ISettings): Promise<void> {
    this._settings = settings;
    const legacy = readLegacyConsent(this._storage);
    if (legacy !== null) {
      if (settings.user.shareNotebook === undefined) {
        await settings.set('shareNotebook', legacy);
      }
      try {
        this._storage?.removeItem(LEGACY_CONSENT_KEY);
      } catch {
        /* nothing to clean up then */
      }
    }
    settings.changed.connect(this._load, this);
    this._load(settings);
  }

  dispose(): void {
    this._settings?.changed.disconnect(this._load, this);
    this._settings = null;
    Signal.clearData(this);
  }

  private _load(settings: ISettingRegistry.ISettings): void {
    this._update(
      normalizeSettings(
        settings.composite as Partial<Record<keyof ITutorSettings, unknown>>
      )
    );
  }

  private _update(values: ITutorSettings): void {
    const old = this._values;
    this._values = values;
    if (
      old.openOnHint !== values.openOnHint ||
      old.shareNotebook !== values.shareNotebook ||
      old.fontSize !== values.fontSize
    ) {
      this._changed.emit(values);
    }
  }

  private _storage: Storage | null;
  private _settings: ISettingRegistry.ISettings | null = null;
  private _values: ITutorSettings = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<this, Readonly<ITutorSettings>>(this);
}

export namespace TutorPreferences {
  export interface IOptions {
    /** Where older versions kept the consent (default: this browser's local storage; null: none). */
    storage?: Storage | null;
  }
}
