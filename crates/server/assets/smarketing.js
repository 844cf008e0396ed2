/*! smarketing.js: the first-party tracking script of a Smarketing server.
 * <script src="https://YOUR-SERVER/js/smarketing.js" data-write-key="wk_…" async></script>
 * Sends a page view on load (with UTM fields and referrer), keeps an
 * anonymous id in a first-party cookie, keeps the campaign fields and click
 * ids of the session's landing page in another (30 minutes past the last
 * page) so later pages carry them too, and identifies the visitor when a
 * form with an e-mail field is submitted. Events go to the server the script
 * came from, as the Segment spec (/v1/p, /v1/i, /v1/t). No third-party hosts. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.smarketing) return;
  var key = me.getAttribute("data-write-key");
  var host = new URL(me.src, location.href).origin;
  var COOKIE = "smk_aid";
  var SESSION = "smk_cmp";
  var SECURE = location.protocol === "https:" ? "; Secure" : "";
  var VERSION = "1.0.0";

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function readCookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function anonymousId() {
    var id = readCookie(COOKIE);
    if (!id) {
      id = uuid();
    }
    // Renewed on every visit: a year after the last one.
    document.cookie = COOKIE + "=" + encodeURIComponent(id) +
      "; path=/; max-age=31536000; SameSite=Lax" + SECURE;
    return id;
  }
  // The campaign of this page (UTM fields and click ids) or, on a page
  // without one, the session's landing page's: a visitor who clicks on from
  // the landing page is still the campaign's.
  function campaign() {
    var fresh = {};
    var p = new URLSearchParams(location.search);
    var map = { utm_source: "source", utm_medium: "medium", utm_campaign: "name",
                utm_term: "term", utm_content: "content",
                gclid: "gclid", fbclid: "fbclid", msclkid: "msclkid", li_fat_id: "li_fat_id" };
    Object.keys(map).forEach(function (k) {
      var v = p.get(k);
      if (v) fresh[map[k]] = v;
    });
    var out = fresh;
    if (!Object.keys(fresh).length) {
      try { out = JSON.parse(readCookie(SESSION) || "{}") || {}; } catch (e) { out = {}; }
    }
    if (Object.keys(out).length) {
      document.cookie = SESSION + "=" + encodeURIComponent(JSON.stringify(out)) +
        "; path=/; max-age=1800; SameSite=Lax" + SECURE;
    }
    return out;
  }
  function context() {
    return {
      page: { url: location.href, path: location.pathname, search: location.search,
              referrer: document.referrer, title: document.title },
      campaign: campaign(),
      userAgent: navigator.userAgent,
      locale: navigator.language,
      library: { name: "smarketing.js", version: VERSION }
    };
  }
  function send(path, message) {
    var now = new Date().toISOString();
    message.writeKey = key;
    message.anonymousId = anonymousId();
    message.messageId = uuid();
    message.originalTimestamp = message.originalTimestamp || now;
    message.sentAt = now;
    message.context = context();
    // text/plain is a simple request: no CORS preflight, and a beacon
    // survives the page unloading (a form submit navigates away).
    var body = JSON.stringify(message);
    var blob = new Blob([body], { type: "text/plain" });
    if (navigator.sendBeacon && navigator.sendBeacon(host + path, blob)) return;
    fetch(host + path, { method: "POST", body: body, keepalive: true,
                         headers: { "Content-Type": "text/plain" } }).catch(function () {});
  }

  var api = {
    page: function (name, properties) {
      var props = properties || {};
      props.url = location.href;
      props.path = location.pathname;
      props.referrer = document.referrer;
      props.title = document.title;
      send("/v1/p", { type: "page", name: name || document.title, properties: props });
    },
    track: function (event, properties) {
      send("/v1/t", { type: "track", event: event, properties: properties || {} });
    },
    identify: function (userId, traits) {
      var m = { type: "identify", traits: traits || {} };
      if (userId) m.userId = String(userId);
      send("/v1/i", m);
    }
  };
  window.smarketing = api;

  function field(form, names) {
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      var n = (el.name || el.id || "").toLowerCase().replace(/[^a-z]/g, "");
      if (names.indexOf(n) >= 0 && el.value) return el.value.trim();
    }
    return null;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.elements) return;
    var email = null;
    for (var i = 0; i < form.elements.length && !email; i++) {
      var el = form.elements[i];
      var looks = el.type === "email" || /e-?mail/i.test(el.name || el.id || "");
      if (looks && /.+@.+\..+/.test(el.value || "")) email = el.value.trim();
    }
    if (!email) return;
    var traits = { email: email };
    var first = field(form, ["firstname", "first", "givenname"]);
    var last = field(form, ["lastname", "last", "familyname", "surname"]);
    var company = field(form, ["company", "organization", "organisation"]);
    var title = field(form, ["title", "jobtitle"]);
    if (first) traits.firstName = first;
    if (last) traits.lastName = last;
    if (company) traits.company = company;
    if (title) traits.title = title;
    api.identify(null, traits);
    var kind = form.getAttribute("data-smarketing-event");
    if (kind) api.track(kind, { form: form.id || form.name || "" });
  }, true);

  api.page();
})();
