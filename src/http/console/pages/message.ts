import { html } from '../../html.js';
import { renderPage, type PageUser } from '../layout.js';

/** A page that only says something: not found, not allowed, not enabled. */
export function renderMessage(title: string, text: string, user?: PageUser): string {
  const body = html`<div class="empty" role="status">
    <p class="empty-title">${title}</p>
    <p>${text}</p>
    <p><a href="/">Back to the console</a></p>
  </div>`;
  return renderPage({ title, body, ...(user ? { user } : {}) });
}
