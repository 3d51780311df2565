/**
 * jsdom has no layout, canvas or media queries; uPlot needs `matchMedia`, `Path2D` and a 2D canvas
 * context to build a chart. These stubs draw nothing: tests check the DOM and the data, not pixels.
 */

import { configure } from '@testing-library/svelte';

if (typeof window.matchMedia !== 'function') {
  window.matchMedia = (query: string): MediaQueryList => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: () => {},
    removeListener: () => {},
    addEventListener: () => {},
    removeEventListener: () => {},
    dispatchEvent: () => false,
  });
}

if (typeof globalThis.Path2D !== 'function') {
  class Path2DStub {
    addPath(): void {}
    arc(): void {}
    arcTo(): void {}
    bezierCurveTo(): void {}
    closePath(): void {}
    ellipse(): void {}
    lineTo(): void {}
    moveTo(): void {}
    quadraticCurveTo(): void {}
    rect(): void {}
    roundRect(): void {}
  }
  Object.defineProperty(globalThis, 'Path2D', { value: Path2DStub, writable: true, configurable: true });
}

/** A 2D context whose every method does nothing (measureText answers a zero-size box). */
function contextStub(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const target: Record<string | symbol, unknown> = {
    canvas,
    measureText: () => ({ width: 0, actualBoundingBoxAscent: 0, actualBoundingBoxDescent: 0 }),
    getImageData: () => ({ data: new Uint8ClampedArray(4) }),
    createLinearGradient: () => ({ addColorStop: () => {} }),
    createPattern: () => null,
    getLineDash: () => [],
  };
  const proxy = new Proxy(target, {
    get: (object, key) => (key in object ? object[key] : () => {}),
    set: (object, key, value) => {
      object[key] = value;
      return true;
    },
  });
  // A proxy stands in for the whole interface: there is no other way to type a stub of it.
  return proxy as unknown as CanvasRenderingContext2D;
}

Object.defineProperty(HTMLCanvasElement.prototype, 'getContext', {
  configurable: true,
  writable: true,
  value(this: HTMLCanvasElement, kind: string) {
    return kind === '2d' ? contextStub(this) : null;
  },
});

// `waitFor` gives up after 1 s by default. `npm test` runs these tests beside the integration
// project (a Kafka broker, emulators, a browser) on two shared cores, where a render can take longer;
// a condition that never comes true still fails, after 10 s.
configure({ asyncUtilTimeout: 10_000 });
