import { html } from '../../html.js';
import { errorBox, renderPage } from '../layout.js';

export interface SignInView {
  /** The pasted-token form is offered (and accepted) only to loopback clients. */
  tokenForm: boolean;
  /** The identity provider's sign-in, when console.clientId is configured. */
  oidc: { issuer: string } | undefined;
  error?: string;
}

export function renderSignIn(view: SignInView): string {
  const none = !view.tokenForm && view.oidc === undefined;
  const body = html`<section class="signin">
    <div class="panel">
      <h1>Sign in to Sluice</h1>
      <p class="lead">Approve statements, replay sessions and export recordings.</p>
      ${view.error ? errorBox(view.error) : ''}
      ${
        view.oidc
          ? html`<p>
                <a class="button primary" id="oidc-sign-in" href="/sign-in/oidc"
                  >Sign in with your identity provider</a
                >
              </p>
              <p class="muted">${view.oidc.issuer}</p>`
          : ''
      }
      ${view.oidc && view.tokenForm ? html`<p class="or">or</p>` : ''}
      ${
        view.tokenForm
          ? html`<form method="post" action="/sign-in/token">
              <label class="field" for="token"
                >Sluice token
                <textarea
                  id="token"
                  name="token"
                  required
                  autocomplete="off"
                  spellcheck="false"
                  placeholder="eyJ…"
                ></textarea>
              </label>
              <p class="muted">
                Paste a token from <code>sluice token</code> or the <code>sluice demo</code> banner. It is
                checked once and exchanged for a session cookie; this form is offered only on this machine
                (loopback).
              </p>
              <button type="submit" class="primary">Sign in</button>
            </form>`
          : ''
      }
      ${
        none
          ? html`<p>
              No sign-in is available from here: the console signs in through the identity provider when
              <code>console.clientId</code> is configured, and with a pasted Sluice token from this machine
              only.
            </p>`
          : ''
      }
    </div>
  </section>`;
  return renderPage({ title: 'Sign in', body, page: 'sign-in' });
}
