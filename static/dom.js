// DOM construction without an HTML parser.
//
// Everything the app shows is built here with createElement, setAttribute
// and text nodes. Data (titles, content, names, server messages) therefore
// never reaches an API that parses markup, which is what keeps a hostile
// title or body inert.

/**
 * h creates an element.
 *
 * props: "class" sets className; "text" sets textContent; "on" is an object
 * of event listeners; "value" and "checked" set the live property (for form
 * controls); "dataset" is merged into data-*; any other key is set with
 * setAttribute (true → "", false/null/undefined → omitted).
 * children: Nodes, strings (added as text nodes), or null/false (skipped).
 *
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...(Node|string|null|false|undefined)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    switch (key) {
      case 'class':
        el.className = value;
        break;
      case 'text':
        el.textContent = value;
        break;
      case 'value':
      case 'checked':
        el[key] = value;
        break;
      case 'dataset':
        Object.assign(el.dataset, value);
        break;
      case 'on':
        for (const [type, listener] of Object.entries(value)) el.addEventListener(type, listener);
        break;
      default:
        // Handlers only through "on": a string "onclick" attribute would be
        // script, and CSP forbids it anyway.
        if (/^on/i.test(key)) throw new Error(`h: use the "on" prop for ${key}`);
        el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** append adds children to parent; strings become text nodes. */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return parent;
}

/** replaceChildren empties parent and adds children (strings as text). */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let lastId = 0;

/**
 * uid returns a document-unique id for label/aria wiring. Ids are counters,
 * not secret ids, so nothing from the server ends up in an id attribute.
 */
export function uid(prefix) {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

/**
 * field wraps a control with its visible label and an optional hint.
 *
 * @param {string} label visible label text; tests find controls by it
 * @param {HTMLElement} control input, textarea or select (gets an id if it has none)
 * @param {{hint?: string|Node}} [opts]
 * @returns {HTMLDivElement}
 */
export function field(label, control, { hint } = {}) {
  if (!control.id) control.id = uid('field');
  const labelEl = h('label', { for: control.id, text: label });
  let hintEl = null;
  if (hint !== undefined) {
    hintEl = h('p', { class: 'hint', id: uid('hint') }, hint);
    describe(control, hintEl);
  }
  return h('div', { class: 'field' }, labelEl, control, hintEl);
}

/** describe adds el to control's aria-describedby list. */
export function describe(control, el) {
  if (!el.id) el.id = uid('desc');
  const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  if (!ids.includes(el.id)) ids.push(el.id);
  control.setAttribute('aria-describedby', ids.join(' '));
}

/**
 * button creates a real <button type="button"> (or "submit") whose visible
 * text is its accessible name.
 */
export function button(text, { kind = 'default', type = 'button', onClick, ...props } = {}) {
  return h('button', {
    type,
    class: `button ${kind}`,
    on: onClick ? { click: onClick } : undefined,
    ...props,
  }, text);
}

/**
 * wipe clears values of every text-like control under root. Used before a
 * form leaves the DOM so passwords and content do not linger in a detached
 * node that something still references.
 */
export function wipe(root) {
  if (!root) return;
  for (const el of root.querySelectorAll('input, textarea')) {
    if (el.type !== 'checkbox' && el.type !== 'button' && el.type !== 'submit') el.value = '';
  }
  for (const el of root.querySelectorAll('pre')) el.textContent = '';
}

/** icon draws one of the app's small SVG icons (decorative: aria-hidden). */
export function icon(name) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name}`);
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('fill-rule', 'evenodd');
  svg.append(path);
  return svg;
}

// Padlock shapes on a 16×16 grid: a body with a keyhole, and a shackle that
// is closed (locked) or swung open (unlocked).
const BODY = 'M3 7h10a1 1 0 0 1 1 1v6a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1zm5 2.5a1 1 0 0 0-.5 1.87V12.5h1v-1.13A1 1 0 0 0 8 9.5z';
const ICONS = {
  locked: `${BODY}M4.5 7V5a3.5 3.5 0 0 1 7 0v2H10V5a2 2 0 0 0-4 0v2z`,
  unlocked: `${BODY}M4.5 7V5a3.5 3.5 0 0 1 6.93-.7l-1.47.3A2 2 0 0 0 6 5v2z`,
};
