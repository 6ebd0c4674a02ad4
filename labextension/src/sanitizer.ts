/**
 * Tutor messages load nothing from other origins.
 *
 * Tutor text comes from an LLM, and notebook content can steer an LLM (prompt injection):
 * an image URL such as `https://elsewhere/pixel.png?leak=<notebook content>` would carry the
 * learner's data out the moment the message renders. JupyterLab's sanitizer keeps remote
 * images, media and `url(...)` styles (notebook outputs need them), so the panel renders
 * through a sanitizer that runs it first, then rewrites what is left:
 *
 * - images, media, frames, embeds pointing to another origin become plain text naming them
 *   (with the URL, so the learner sees where it pointed);
 * - links to another origin become their text followed by the URL, not clickable;
 * - inline styles with `url(...)`, `image-set`, `@import` or escapes are dropped;
 * - any other URL-bearing attribute pointing elsewhere is removed.
 *
 * Kept: URLs under this server's base URL (its files, its static assets), `data:` and `blob:`.
 * Same origin is not enough: on JupyterHub every learner's server shares the hub's origin,
 * so `/user/someone-else/...?leak=` would reach another server.
 *
 * Why not a Content-Security-Policy: a CSP applies to the whole JupyterLab page (it can't be
 * scoped to the panel's subtree) and `img-src 'self'` would also block the remote images of
 * every notebook's markdown and outputs; a sandboxed iframe per message would lose theming,
 * sizing and the chat's own components. The rewrite happens on an inert document (DOMParser:
 * nothing in it loads) before the renderer puts the HTML into the live page, which is the
 * moment a browser starts fetching.
 */
import { IRenderMime } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from './i18n';

/** Elements that fetch on their own: shown as text when any of their URLs is remote. */
const LOADING_ELEMENTS = new Set([
  'img',
  'image',
  'picture',
  'video',
  'audio',
  'source',
  'track',
  'iframe',
  'frame',
  'object',
  'embed',
  'input'
]);

const CONTAINERS = 'video, audio, picture, object';

/** Elements that must never survive, whatever their URLs (the sanitizer drops most already). */
const FORBIDDEN_ELEMENTS = [
  'link',
  'style',
  'meta',
  'base',
  'script',
  'svg',
  'math',
  'template'
];

/** Attributes holding a URL the browser may fetch without a click. */
const URL_ATTRIBUTES = [
  'src',
  'srcset',
  'poster',
  'background',
  'data',
  'href',
  'xlink:href',
  'action',
  'formaction',
  'lowsrc',
  'dynsrc',
  'longdesc',
  'ping',
  'codebase',
  'archive',
  'manifest',
  'itemtype'
];

const UNSAFE_STYLE =
  /url\s*\(|image-set|image\s*\(|@import|expression\s*\(|\\/i;

export class LocalOnlySanitizer implements IRenderMime.ISanitizer {
  /**
   * @param _inner - JupyterLab's sanitizer, run first.
   * @param _scope - URLs under this one are this server's (default: the server's base URL).
   * @param trans - the words of what replaces remote content.
   */
  constructor(
    private readonly _inner: IRenderMime.ISanitizer,
    private readonly _scope: string = ServerConnection.makeSettings().baseUrl,
    trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
  ) {
    this._trans = trans;
  }

  private readonly _trans: TranslationBundle;

  get allowNamedProperties(): boolean | undefined {
    return this._inner.allowNamedProperties;
  }

  get allowCommandLinker(): boolean | undefined {
    return this._inner.allowCommandLinker;
  }

  getAutolink(): boolean {
    return this._inner.getAutolink?.() ?? true;
  }

  sanitize(dirty: string, options?: IRenderMime.ISanitizerOptions): string {
    return keepLocalContent(
      this._inner.sanitize(dirty, options),
      this._scope,
      this._trans
    );
  }
}

/** `html` with everything that would load from outside `scope` turned into text. */
export function keepLocalContent(
  html: string,
  scope: string,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): string {
  const doc = new DOMParser().parseFromString(
    `<!DOCTYPE html><html><body>${html}</body></html>`,
    'text/html'
  );
  const isLocal = (value: string): boolean =>
    isLocalUrl(value, document.baseURI, scope);

  for (const el of Array.from(
    doc.body.querySelectorAll(FORBIDDEN_ELEMENTS.join(','))
  )) {
    el.remove();
  }
  // Media whose sources are children: the container goes as a whole (text inside a <video>
  // is a fallback the browser never shows).
  for (const el of Array.from(doc.body.querySelectorAll(CONTAINERS))) {
    if (!el.isConnected) {
      continue; // inside a container replaced already
    }
    const urls: string[] = [];
    for (const node of [el, ...Array.from(el.querySelectorAll('*'))]) {
      urls.push(...remoteUrls(node));
    }
    const remote = urls.find(url => !isLocal(url));
    if (remote !== undefined) {
      el.replaceWith(blockedText(doc, el, remote, trans));
    }
  }
  // Deepest first, so that replacing an element never skips one inside it.
  for (const el of Array.from(doc.body.querySelectorAll('*')).reverse()) {
    const tag = el.localName;
    const remote = remoteUrls(el).filter(url => !isLocal(url));
    if (LOADING_ELEMENTS.has(tag) && remote.length) {
      el.replaceWith(blockedText(doc, el, remote[0], trans));
      continue;
    }
    if ((tag === 'a' || tag === 'area') && el.hasAttribute('href')) {
      const href = el.getAttribute('href') ?? '';
      if (!href.startsWith('#') && !isLocal(href)) {
        el.replaceWith(linkText(doc, el, href, trans));
        continue;
      }
    }
    for (const name of URL_ATTRIBUTES) {
      const value = el.getAttribute(name);
      if (
        value !== null &&
        remoteUrlsOf(name, value).some(url => !isLocal(url))
      ) {
        el.removeAttribute(name);
      }
    }
    el.removeAttribute('ping');
    const style = el.getAttribute('style');
    if (style !== null && UNSAFE_STYLE.test(style)) {
      el.removeAttribute('style');
    }
  }
  return doc.body.innerHTML;
}

function remoteUrls(el: Element): string[] {
  const urls: string[] = [];
  for (const name of URL_ATTRIBUTES) {
    if (name === 'href' && (el.localName === 'a' || el.localName === 'area')) {
      continue; // a link loads nothing until clicked; handled on its own
    }
    const value = el.getAttribute(name);
    if (value !== null) {
      urls.push(...remoteUrlsOf(name, value));
    }
  }
  return urls;
}

/** The URLs in one attribute (`srcset` lists several, each followed by a size). */
function remoteUrlsOf(name: string, value: string): string[] {
  if (name === 'srcset') {
    return value
      .split(',')
      .map(candidate => candidate.trim().split(/\s+/)[0])
      .filter(Boolean);
  }
  if (name === 'archive' || name === 'ping') {
    return value.split(/[\s,]+/).filter(Boolean);
  }
  return [value];
}

/** Whether `value` (relative to the page at `base`) stays under `scope` (or is data/blob). */
export function isLocalUrl(
  value: string,
  base: string,
  scope: string
): boolean {
  const trimmed = value.trim();
  if (!trimmed) {
    return true;
  }
  try {
    const url = new URL(trimmed, base); // also resolves `..` and `%2e%2e` segments
    if (url.protocol === 'data:' || url.protocol === 'blob:') {
      return true;
    }
    const within = new URL(scope);
    return (
      url.origin === within.origin && url.pathname.startsWith(within.pathname)
    );
  } catch {
    return false;
  }
}

/** What a blocked element is, in words. */
function kindOf(el: Element, trans: TranslationBundle): string {
  switch (el.localName) {
    case 'img':
    case 'image':
    case 'picture':
    case 'input':
      return trans.__('image');
    case 'video':
      return trans.__('video');
    case 'audio':
      return trans.__('audio');
    case 'source':
    case 'track':
      return trans.__('media');
    default:
      return trans.__('embedded content');
  }
}

function blockedText(
  doc: Document,
  el: Element,
  url: string,
  trans: TranslationBundle
): HTMLElement {
  const label =
    el.getAttribute('alt') ||
    el.getAttribute('title') ||
    el.textContent?.trim() ||
    '';
  const kind = kindOf(el, trans);
  const span = doc.createElement('span');
  span.className = 'ltt-BlockedContent';
  span.title = trans.__(
    'Not loaded: the tutor shows no %1 from other sites.',
    kind
  );
  span.textContent = label
    ? trans.__('[%1: %2 — not loaded from %3]', kind, label, url)
    : trans.__('[%1 — not loaded from %2]', kind, url);
  return span;
}

function linkText(
  doc: Document,
  el: Element,
  href: string,
  trans: TranslationBundle
): HTMLElement {
  const span = doc.createElement('span');
  span.className = 'ltt-RemoteLink';
  span.title = trans.__('A link to another site: copy it if you trust it.');
  const text = el.textContent?.trim() ?? '';
  span.textContent =
    !text || text === href ? href : trans.__('%1 (%2)', text, href);
  return span;
}
