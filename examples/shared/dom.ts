/** A small element builder for the example pages (no framework: each widget is plain DOM). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A widget's frame: a titled card. */
export function card(title: string, id: string, ...children: Array<Node | string>): HTMLElement {
  return el('section', { class: 'card', id }, el('h2', {}, title), ...children);
}
