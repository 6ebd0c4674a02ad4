/**
 * What the tutor's rendered text may load: nothing from outside this server's base URL.
 */
import { isLocalUrl, keepLocalContent } from '../sanitizer';

const SCOPE = 'http://hub.test/user/ada/';
const PAGE = 'http://hub.test/user/ada/lab';

describe('isLocalUrl', () => {
  it('keeps this server, data: and blob:', () => {
    expect(isLocalUrl('/user/ada/files/a.png', PAGE, SCOPE)).toBe(true);
    expect(isLocalUrl('files/a.png', PAGE, SCOPE)).toBe(true);
    expect(isLocalUrl('data:image/png;base64,AAAA', PAGE, SCOPE)).toBe(true);
    expect(isLocalUrl('', PAGE, SCOPE)).toBe(true);
  });

  it('refuses other sites and other servers of the same hub', () => {
    expect(isLocalUrl('https://evil.test/x.png', PAGE, SCOPE)).toBe(false);
    expect(isLocalUrl('/user/bob/files/x.png', PAGE, SCOPE)).toBe(false);
    expect(isLocalUrl('/user/ada/../bob/x.png', PAGE, SCOPE)).toBe(false);
  });
});

describe('keepLocalContent', () => {
  it('turns remote images and links into text', () => {
    const html = keepLocalContent(
      '<p><img src="https://evil.test/x.png?leak=1" alt="chart">' +
        '<a href="https://example.test/doc">the docs</a></p>',
      SCOPE
    );
    expect(html).not.toContain('<img');
    expect(html).toContain(
      '[image: chart — not loaded from https://evil.test/x.png?leak=1]'
    );
    expect(html).toContain('the docs (https://example.test/doc)');
    expect(html).not.toContain('href="https://example.test');
  });

  it('keeps what this server serves', () => {
    // Relative URLs resolve against the page (jsdom's is http://localhost/).
    const scope = new URL('/user/ada/', document.baseURI).href;
    const html = keepLocalContent('<img src="/user/ada/files/a.png">', scope);
    expect(html).toContain('<img src="/user/ada/files/a.png">');
  });
});
