// Starts GraphiQL on the page GET /graphql serves (api/graphiql.py), with
// the files vendored next to this one. Every request goes to this page's own
// URL (the endpoint), so it works behind a reverse proxy's path prefix.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var endpoint = window.location.origin + window.location.pathname;
  var NO_KEY = {
    errors: [{
      message: 'Enter your API key in the Headers tab: {"Authorization": "Bearer <your key>"}',
      extensions: { code: "UNAUTHENTICATED" },
    }],
  };

  function authorization(headers) {
    // The Authorization header of the headers editor's text, or "" when absent or unparsable.
    try {
      var parsed = JSON.parse(headers || "{}");
      for (var name in parsed) {
        if (name.toLowerCase() === "authorization") return String(parsed[name]).trim();
      }
    } catch (ignored) { /* being typed: not JSON yet */ }
    return "";
  }

  // GraphiQL keeps its tabs and history in localStorage, so queries survive a
  // reload. It would keep each history entry's headers (the API key) and each
  // tab's last response (customer data) there too: this storage writes them
  // as the empty header template and nothing, so neither outlives the page.
  var NAMESPACE = "graphiql:";
  function scrub(node) {
    if (Array.isArray(node)) {
      node.forEach(scrub);
    } else if (node && typeof node === "object") {
      if ("headers" in node) node.headers = root.dataset.defaultHeaders;
      if ("response" in node) node.response = null;
      Object.keys(node).forEach(function (name) { scrub(node[name]); });
    }
    return node;
  }
  var storage = {
    getItem: function (key) { return localStorage.getItem(key); },
    setItem: function (key, value) {
      if (key === NAMESPACE + "headers") return; // the headers editor itself: never stored
      var data;
      try { data = JSON.parse(value); } catch (notJson) { data = undefined; }
      localStorage.setItem(key, data && typeof data === "object" ? JSON.stringify(scrub(data)) : value);
    },
    removeItem: function (key) { localStorage.removeItem(key); },
    get length() { return Object.keys(localStorage).filter(function (key) { return key.indexOf(NAMESPACE) === 0; }).length; },
    clear: function () {
      Object.keys(localStorage).forEach(function (key) { if (key.indexOf(NAMESPACE) === 0) localStorage.removeItem(key); });
    },
  };

  function makeFetcher() {
    // No subscriptionUrl: the API has no subscriptions, so no websocket.
    var post = GraphiQL.createFetcher({ url: endpoint });
    return function (params, options) {
      // Without a key the answer is a 401: say what to do instead of asking.
      var headers = (options && options.headers) || {};
      var auth = authorization(JSON.stringify(headers));
      if (!/^Bearer\s+\S/i.test(auth)) return Promise.resolve(NO_KEY);
      return post(params, options);
    };
  }

  function App() {
    var state = React.useState(makeFetcher);
    var fetcher = state[0], setFetcher = state[1];
    var lastKey = React.useRef(authorization(root.dataset.defaultHeaders));
    var timer = React.useRef(null);
    var explorer = React.useState(function () { return GraphiQLPluginExplorer.explorerPlugin(); })[0];

    // GraphiQL loads the schema when its fetcher changes: a new fetcher once
    // the key in the headers editor changes makes the schema (docs,
    // completion) follow the key just entered.
    function onEditHeaders(text) {
      clearTimeout(timer.current);
      timer.current = setTimeout(function () {
        var key = authorization(text);
        if (key !== lastKey.current) {
          lastKey.current = key;
          setFetcher(makeFetcher);
        }
      }, 300);
    }

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: root.dataset.defaultQuery,
      defaultHeaders: root.dataset.defaultHeaders,
      onEditHeaders: onEditHeaders,
      isHeadersEditorEnabled: true,
      storage: storage,
      shouldPersistHeaders: false, // the key stays in this page, never in the browser's storage
      defaultEditorToolsVisibility: "headers",
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(root).render(React.createElement(App));
})();
