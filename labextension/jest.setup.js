// jsdom has no Clipboard API; JupyterLab's apputils warns about it when it is imported.
Object.defineProperty(navigator, 'clipboard', {
  configurable: true,
  value: {
    read: async () => [],
    readText: async () => '',
    write: async () => undefined,
    writeText: async () => undefined
  }
});

// jsdom has no ResizeObserver either (the chat keeps its newest message in view with one).
if (typeof window.ResizeObserver === 'undefined') {
  window.ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}
