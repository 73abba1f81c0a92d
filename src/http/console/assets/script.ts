/**
 * The console's only script, served at /assets/console-<hash>.js (the Content-Security-Policy
 * allows no other). Plain ES2017 for any current browser, no build step. It builds every node with
 * DOM calls and sets text with textContent: data from the API is never parsed as HTML.
 * It is kept in a string (no backquotes, no template placeholders inside) so the TypeScript build
 * alone ships it, in dist as in the sources.
 */
export const CONSOLE_JS = String.raw`
(function () {
  'use strict';
  var POLL_MS = 2000;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') || '' : '';
  var KEYWORDS = /\b(SELECT|FROM|WHERE|UPDATE|SET|INSERT|INTO|VALUES|DELETE|AND|OR|NOT|NULL|JOIN|LEFT|RIGHT|INNER|OUTER|ON|AS|GROUP|BY|ORDER|LIMIT|OFFSET|HAVING|UNION|ALL|DISTINCT|CREATE|DROP|ALTER|TABLE|INDEX|BEGIN|COMMIT|ROLLBACK|WITH|RETURNING|CASE|WHEN|THEN|ELSE|END|IN|IS|LIKE|EXISTS|TRUNCATE|GRANT|REVOKE|MERGE|COPY|EXPLAIN|ANALYZE|DO)\b/gi;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === undefined || value === null || value === false) return;
        if (key === 'text') node.textContent = String(value);
        else if (key === 'className') node.className = value;
        else node.setAttribute(key, value === true ? '' : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  /** Wraps SQL keywords in spans, from the element's own text (never from HTML). */
  function highlight(pre) {
    var text = pre.textContent || '';
    var out = document.createDocumentFragment();
    var last = 0;
    var match;
    KEYWORDS.lastIndex = 0;
    while ((match = KEYWORDS.exec(text)) !== null) {
      if (match.index > last) out.appendChild(document.createTextNode(text.slice(last, match.index)));
      out.appendChild(el('span', { className: 'kw', text: match[0] }));
      last = match.index + match[0].length;
    }
    if (last < text.length) out.appendChild(document.createTextNode(text.slice(last)));
    pre.textContent = '';
    pre.appendChild(out);
  }

  function duration(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
  }

  function approvalsPage() {
    var queue = document.getElementById('queue');
    var live = document.getElementById('live');
    var count = document.getElementById('pending-count');
    if (!queue) return;
    var approver = queue.getAttribute('data-approver') === 'true';
    var me = { subject: queue.getAttribute('data-subject'), issuer: queue.getAttribute('data-issuer') };
    var cards = {};
    var timer = null;

    function setLive(ok, text) {
      if (!live) return;
      live.className = ok ? 'live' : 'live stale';
      live.textContent = text;
    }

    function empty() {
      return el('div', { className: 'empty', id: 'queue-empty' }, [
        el('p', { className: 'empty-title', text: 'No requests waiting' }),
        el('p', {
          text: 'Statements that a policy sends to review appear here as they arrive; this page updates by itself.',
        }),
      ]);
    }

    function decide(request, action, card) {
      var input = card.querySelector('input[name="reason"]');
      var buttons = card.querySelectorAll('button, select');
      var status = card.querySelector('.outcome');
      buttons.forEach(function (b) { b.disabled = true; });
      card.setAttribute('data-busy', 'true');
      var body = {};
      if (input && input.value.trim() !== '') body.reason = input.value.trim();
      var grant = card.querySelector('select[name="grant"]');
      if (action === 'approve' && grant && grant.value !== '') body.grantMinutes = Number(grant.value);
      fetch('/api/approvals/' + encodeURIComponent(request.id) + '/' + action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' },
        body: JSON.stringify(body),
      })
        .then(function (res) {
          return res.json().then(function (data) { return { ok: res.ok, data: data }; });
        })
        .then(function (answer) {
          card.removeAttribute('data-busy');
          if (answer.ok) {
            card.setAttribute('data-done', 'true');
            var pill = card.querySelector('header .pill');
            if (pill) {
              pill.className = 'pill ' + (action === 'approve' ? 'approved' : 'denied');
              pill.textContent = action === 'approve' ? 'approved' : 'denied';
            }
            status.className = 'outcome pill ' + (action === 'approve' ? 'approved' : 'denied');
            status.textContent =
              action === 'approve'
                ? 'Approved: the statement runs now' + (answer.data.grant ? ' (and statements like it until ' + new Date(answer.data.grant.expiresAt).toLocaleTimeString() + ')' : '')
                : 'Denied';
            if (input) input.disabled = true;
          } else {
            buttons.forEach(function (b) { b.disabled = false; });
            status.className = 'outcome error';
            status.setAttribute('role', 'alert');
            status.textContent = (answer.data && answer.data.message) || 'the decision was refused';
          }
        })
        .catch(function () {
          card.removeAttribute('data-busy');
          buttons.forEach(function (b) { b.disabled = false; });
          status.className = 'outcome error';
          status.textContent = 'the gateway did not answer; try again';
        });
    }

    function card(request) {
      var own = request.requester.subject === me.subject && request.requester.issuer === me.issuer;
      var sql = el('pre', { className: 'sql', text: request.sql });
      highlight(sql);
      var details = [
        el('dt', { text: 'Effects' }), el('dd', { text: request.effects.join(', ') || 'none' }),
        el('dt', { text: 'Objects' }), el('dd', { className: 'mono', text: request.objects.join(', ') || 'none' }),
        el('dt', { text: 'Why review' }), el('dd', { text: request.guard.reason }),
        el('dt', { text: 'Rule' }), el('dd', { className: 'mono', text: request.guard.rule }),
      ];
      if (typeof request.rowEstimate === 'number') {
        details.push(el('dt', { text: 'Estimate' }), el('dd', { text: request.rowEstimate + (request.rowEstimate === 1 ? ' row' : ' rows') + ' (EXPLAIN estimate)' }));
      }
      details.push(el('dt', { text: 'Session' }), el('dd', { className: 'mono', text: request.sessionId }));
      var decideRow = null;
      if (approver && !own) {
        var reasonId = 'reason-' + request.id;
        decideRow = el('div', { className: 'decide' }, [
          el('label', { for: reasonId, className: 'muted', text: 'Reason' }),
          el('input', { type: 'text', id: reasonId, name: 'reason', maxlength: '2000', placeholder: 'ticket, context… (recorded)' }),
          el('label', { for: 'grant-' + request.id, className: 'muted', text: 'Grant' }),
          el('select', { id: 'grant-' + request.id, name: 'grant', title: 'also let this caller run statements like it, without review, for a while' }, [
            el('option', { value: '', text: 'this statement only' }),
            el('option', { value: '15', text: 'and like it for 15 min' }),
            el('option', { value: '60', text: 'and like it for 1 h' }),
          ]),
          el('button', { type: 'button', className: 'approve', 'data-action': 'approve', text: 'Approve' }),
          el('button', { type: 'button', className: 'deny', 'data-action': 'deny', text: 'Deny' }),
        ]);
      } else if (approver && own) {
        decideRow = el('p', { className: 'muted', text: 'This is your own request: another approver must decide it.' });
      }
      var node = el('article', { className: 'card', 'data-id': request.id, 'aria-label': 'Request by ' + request.requester.subject }, [
        el('header', null, [
          el('span', { className: 'who-asked', text: request.requester.subject }),
          el('span', { className: 'muted', text: '[' + request.requester.groups.join(', ') + ']' }),
          el('span', null, ['on ', el('strong', { text: request.target }), ' over ' + request.channel]),
          el('span', { className: 'pill pending', text: 'pending' }),
          el('span', { className: 'muted waited', 'data-created': String(request.createdAt), 'data-expires': String(request.expiresAt) }),
        ]),
        sql,
        el('dl', null, details),
        decideRow,
        el('div', { className: 'outcome', 'aria-live': 'polite' }),
      ]);
      node.querySelectorAll('button[data-action]').forEach(function (button) {
        button.addEventListener('click', function () { decide(request, button.getAttribute('data-action'), node); });
      });
      return node;
    }

    function tick() {
      var now = Date.now();
      queue.querySelectorAll('.waited').forEach(function (span) {
        var created = Number(span.getAttribute('data-created'));
        var expires = Number(span.getAttribute('data-expires'));
        span.textContent = 'waiting ' + duration(now - created) + ' · expires in ' + duration(expires - now);
      });
    }

    function render(requests) {
      var seen = {};
      requests.forEach(function (r) {
        seen[r.id] = true;
        if (!cards[r.id]) {
          cards[r.id] = card(r);
          queue.appendChild(cards[r.id]);
        }
      });
      Object.keys(cards).forEach(function (id) {
        var node = cards[id];
        if (seen[id] || node.getAttribute('data-busy') === 'true') return;
        if (node.getAttribute('data-done') === 'true' && !node.getAttribute('data-leaving')) {
          // Leave the outcome in view for one more poll, then take the card away.
          node.setAttribute('data-leaving', 'true');
          return;
        }
        node.remove();
        delete cards[id];
      });
      var pending = requests.length;
      if (count) count.textContent = String(pending);
      var placeholder = document.getElementById('queue-empty');
      if (Object.keys(cards).length === 0) {
        if (!placeholder) queue.appendChild(empty());
      } else if (placeholder) {
        placeholder.remove();
      }
      tick();
    }

    function poll() {
      fetch('/api/approvals?state=pending', { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (res) {
          if (res.status === 401) {
            setLive(false, 'Your sign-in has ended: sign in again');
            window.location.assign('/sign-in');
            return null;
          }
          return res.json().then(function (data) {
            if (!res.ok) throw new Error((data && data.message) || 'HTTP ' + res.status);
            return data;
          });
        })
        .then(function (data) {
          if (data === null) return;
          render(data.requests || []);
          setLive(true, 'Live · updated ' + new Date().toLocaleTimeString());
          timer = setTimeout(poll, POLL_MS);
        })
        .catch(function (err) {
          setLive(false, 'Cannot reach the gateway (' + err.message + '); retrying');
          timer = setTimeout(poll, POLL_MS * 2);
        });
    }

    setInterval(tick, 1000);
    poll();
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer);
        poll();
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('pre.sql[data-highlight]').forEach(highlight);
    if (document.body.getAttribute('data-page') === 'approvals') approvalsPage();
  });
})();
`;
