// The bell's stylesheet, injected once per document. Every color, size and font is a CSS variable
// with a default, so apps theme the bell from any ancestor:
//   .app { --pigeon-accent: #0f766e; --pigeon-radius: 6px; }
import { useInsertionEffect } from 'react';

const STYLE_ID = 'pigeon-bell-styles';

/**
 * The bell's stylesheet (injected automatically; exported for apps that inline CSS, e.g. for a
 * strict Content-Security-Policy with a nonce).
 *
 * @example
 * ```tsx
 * <style nonce={nonce}>{BELL_CSS}</style>
 * ```
 */
export const BELL_CSS = `
.pigeon-bell {
  --_accent: var(--pigeon-accent, #4f46e5);
  --_bg: var(--pigeon-bg, #ffffff);
  --_fg: var(--pigeon-fg, #111827);
  --_muted: var(--pigeon-muted, #4b5563);
  --_border: var(--pigeon-border, #e5e7eb);
  --_hover: var(--pigeon-hover, #f3f4f6);
  --_unread-bg: var(--pigeon-unread-bg, #eef2ff);
  --_badge-bg: var(--pigeon-badge-bg, #dc2626);
  --_badge-fg: var(--pigeon-badge-fg, #ffffff);
  --_radius: var(--pigeon-radius, 10px);
  --_width: var(--pigeon-panel-width, 380px);
  --_font: var(--pigeon-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  position: relative;
  display: inline-block;
  font-family: var(--_font);
  color: var(--_fg);
}
.pigeon-bell__button {
  position: relative; display: inline-flex; align-items: center; justify-content: center;
  width: 40px; height: 40px; border: 0; border-radius: 999px; background: transparent;
  color: inherit; cursor: pointer;
}
.pigeon-bell__button:hover { background: var(--_hover); }
.pigeon-bell__button:focus-visible, .pigeon-bell__panel button:focus-visible {
  outline: 2px solid var(--_accent); outline-offset: 2px;
}
.pigeon-bell__badge {
  position: absolute; top: -1px; left: 22px; min-width: 18px; height: 18px; padding: 0 5px;
  box-sizing: border-box; border-radius: 999px; background: var(--_badge-bg); color: var(--_badge-fg);
  font-size: 11px; font-weight: 700; line-height: 18px; text-align: center;
  box-shadow: 0 0 0 2px var(--_bg);
}
.pigeon-bell__panel {
  position: absolute; top: calc(100% + 8px); right: 0; z-index: 1000;
  width: var(--_width); max-width: calc(100vw - 16px); max-height: min(70vh, 560px);
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--_bg); color: var(--_fg); border: 1px solid var(--_border); border-radius: var(--_radius);
  box-shadow: 0 12px 32px rgba(17, 24, 39, 0.16); outline: none;
}
.pigeon-bell[data-align="start"] .pigeon-bell__panel { right: auto; left: 0; }
.pigeon-bell__header {
  display: flex; align-items: center; justify-content: space-between; gap: 8px;
  padding: 12px 14px; border-bottom: 1px solid var(--_border);
}
.pigeon-bell__title { margin: 0; font-size: 15px; font-weight: 650; }
.pigeon-bell__mark-all, .pigeon-bell__link, .pigeon-bell__more {
  border: 0; background: none; color: var(--_accent); font: inherit; font-size: 13px; cursor: pointer; padding: 4px 6px; border-radius: 6px;
}
.pigeon-bell__mark-all:disabled, .pigeon-bell__more:disabled { color: var(--_muted); cursor: default; }
.pigeon-bell__mark-all:not(:disabled):hover, .pigeon-bell__more:hover { background: var(--_hover); }
.pigeon-bell__status, .pigeon-bell__notice {
  margin: 0; padding: 6px 14px; font-size: 12px; color: var(--_muted); background: var(--_hover);
}
.pigeon-bell__notice { color: #991b1b; background: #fef2f2; }
.pigeon-bell__list { list-style: none; margin: 0; padding: 0; overflow-y: auto; }
.pigeon-bell__item { display: flex; align-items: stretch; border-bottom: 1px solid var(--_border); }
.pigeon-bell__item:last-child { border-bottom: 0; }
.pigeon-bell__item[data-unread="true"] { background: var(--_unread-bg); }
.pigeon-bell__item-action {
  flex: 1; display: flex; align-items: flex-start; min-width: 0; padding: 12px 4px 12px 16px;
  border: 0; background: none; color: inherit; font: inherit; text-align: left; cursor: pointer;
}
.pigeon-bell__item-action:hover { background: var(--_hover); }
.pigeon-bell__item-text { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.pigeon-bell__item-title { font-size: 14px; font-weight: 600; overflow-wrap: anywhere; }
.pigeon-bell__item[data-unread="false"] .pigeon-bell__item-title { font-weight: 500; }
.pigeon-bell__item-body {
  font-size: 13px; color: var(--_muted); overflow: hidden; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow-wrap: anywhere;
}
.pigeon-bell__item-time { font-size: 12px; color: var(--_muted); }
.pigeon-bell__item-toggle {
  flex: none; width: 44px; display: flex; align-items: center; justify-content: center;
  border: 0; background: none; cursor: pointer; padding: 0;
}
.pigeon-bell__item-toggle:hover { background: var(--_hover); }
.pigeon-bell__marker {
  width: 10px; height: 10px; box-sizing: border-box; border-radius: 999px; border: 2px solid var(--_muted);
}
.pigeon-bell__item[data-unread="true"] .pigeon-bell__marker { background: var(--_accent); border-color: var(--_accent); }
.pigeon-bell__item-toggle:hover .pigeon-bell__marker { border-color: var(--_accent); }
.pigeon-bell__state { padding: 28px 16px; text-align: center; color: var(--_muted); font-size: 14px; }
.pigeon-bell__state p { margin: 0 0 6px; }
.pigeon-bell__empty-title { color: var(--_fg); font-weight: 600; }
.pigeon-bell__more { margin: 4px auto 8px; }
.pigeon-bell__sr {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
@media (max-width: 480px) {
  .pigeon-bell__panel { position: fixed; top: var(--pigeon-panel-top, 64px); left: 8px; right: 8px; width: auto; max-width: none; }
}
@media (prefers-reduced-motion: no-preference) {
  .pigeon-bell__panel { animation: pigeon-bell-in 120ms ease-out; }
  @keyframes pigeon-bell-in { from { opacity: 0; transform: translateY(-4px); } to { opacity: 1; transform: none; } }
}
`;

/** Adds the bell's stylesheet to the document once (before layout, so there is no unstyled flash). */
export function useBellStyles(): void {
  useInsertionEffect(() => {
    if (typeof document === 'undefined' || document.getElementById(STYLE_ID)) return;
    const style = document.createElement('style');
    style.id = STYLE_ID;
    style.textContent = BELL_CSS;
    document.head.appendChild(style);
  }, []);
}
