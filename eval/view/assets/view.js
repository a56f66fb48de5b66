/* proactive view: filters, pagination and lazy episode details for one static page (inlined into
   index.html). The index (one short row per item) is embedded in the page; each item's turns live in
   chunk files (view_files/chunks/NNNNN.js) loaded with a <script> tag, which works from file://. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("view-index").textContent);
  const facets = data.facets;
  const tags = data.tags;
  const items = data.items; // [title, [facet value index...], [[tag index...] per run], differ]
  const chunks = new Map();
  const waiting = new Map();
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  window.viewChunk = function (n, details) {
    chunks.set(n, details);
    (waiting.get(n) || []).forEach((done) => done());
    waiting.delete(n);
  };

  function loadChunk(n, done) {
    if (chunks.has(n)) return done();
    if (waiting.has(n)) return waiting.get(n).push(done);
    waiting.set(n, [done]);
    const script = document.createElement("script");
    script.src = data.chunk_dir + "/" + String(n).padStart(5, "0") + ".js";
    script.onerror = () => {
      chunks.set(n, null);
      (waiting.get(n) || []).forEach((f) => f());
      waiting.delete(n);
    };
    document.head.appendChild(script);
  }

  // --- state, kept in the URL's hash so a filtered view can be linked ---------------------------
  const state = { facet: facets.map(() => -1), tag: -1, run: -1, differ: false, page: 1 };

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    facets.forEach((f, i) => {
      state.facet[i] = f.values.indexOf(params.get(f.name));
    });
    state.tag = tags.findIndex((t) => t.id === params.get("outcome"));
    state.run = data.runs.indexOf(params.get("run"));
    state.differ = params.get("differ") === "1" && data.runs.length > 1;
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  }

  function writeHash() {
    const params = new URLSearchParams();
    facets.forEach((f, i) => {
      if (state.facet[i] >= 0) params.set(f.name, f.values[state.facet[i]]);
    });
    if (state.tag >= 0) params.set("outcome", tags[state.tag].id);
    if (state.run >= 0) params.set("run", data.runs[state.run]);
    if (state.differ) params.set("differ", "1");
    if (state.page > 1) params.set("page", String(state.page));
    const hash = params.toString();
    if (location.hash.slice(1) !== hash) history.replaceState(null, "", hash ? "#" + hash : location.pathname);
  }

  // --- filtering --------------------------------------------------------------------------------
  function hasTag(item, tag) {
    const perRun = item[2];
    if (state.run >= 0) return perRun[state.run].includes(tag);
    return perRun.some((runTags) => runTags.includes(tag));
  }

  function matches(item, skip) {
    for (let i = 0; i < facets.length; i++) {
      if (skip !== "facet" + i && state.facet[i] >= 0 && item[1][i] !== state.facet[i]) return false;
    }
    if (skip !== "tag" && state.tag >= 0 && !hasTag(item, state.tag)) return false;
    if (skip !== "differ" && state.differ && !item[3]) return false;
    return true;
  }

  function countBy(skip, keyOf, size) {
    const counts = new Array(size).fill(0);
    let all = 0;
    for (const item of items) {
      if (!matches(item, skip)) continue;
      all += 1;
      for (const key of keyOf(item)) counts[key] += 1;
    }
    return [all, counts];
  }

  // --- controls ---------------------------------------------------------------------------------
  const controls = document.getElementById("controls");
  const selects = [];

  function addSelect(name, label, onChange) {
    const wrap = el("label", null, label + " ");
    const select = el("select");
    select.name = name;
    select.addEventListener("change", () => {
      onChange(parseInt(select.value, 10));
      state.page = 1;
      update();
    });
    wrap.appendChild(select);
    controls.appendChild(wrap);
    return select;
  }

  function fillSelect(select, allLabel, labels, counts, all, chosen) {
    select.textContent = "";
    const first = el("option", null, `${allLabel} (${all})`);
    first.value = "-1";
    select.appendChild(first);
    labels.forEach((label, i) => {
      const option = el("option", null, `${label} (${counts[i]})`);
      option.value = String(i);
      select.appendChild(option);
    });
    select.value = String(chosen);
  }

  facets.forEach((facet, i) => {
    const select = addSelect(facet.name, facet.label, (v) => (state.facet[i] = v));
    selects.push(() => {
      const [all, counts] = countBy("facet" + i, (item) => [item[1][i]], facet.values.length);
      fillSelect(select, "all", facet.values, counts, all, state.facet[i]);
    });
  });
  const tagSelect = addSelect("outcome", data.tag_label, (v) => (state.tag = v));
  selects.push(() => {
    const [all, counts] = countBy(
      "tag",
      (item) => tags.map((_, t) => t).filter((t) => hasTag(item, t)),
      tags.length
    );
    fillSelect(tagSelect, "any", tags.map((t) => t.label), counts, all, state.tag);
  });
  if (data.runs.length > 1) {
    const runSelect = addSelect("run", "in run", (v) => (state.run = v));
    selects.push(() => {
      runSelect.textContent = "";
      const any = el("option", null, "any run");
      any.value = "-1";
      runSelect.appendChild(any);
      data.runs.forEach((run, i) => {
        const option = el("option", null, run);
        option.value = String(i);
        runSelect.appendChild(option);
      });
      runSelect.value = String(state.run);
    });
    const wrap = el("label", null, "");
    const differ = el("input");
    differ.type = "checkbox";
    differ.name = "differ";
    differ.addEventListener("change", () => {
      state.differ = differ.checked;
      state.page = 1;
      update();
    });
    wrap.appendChild(differ);
    const differLabel = el("span");
    wrap.appendChild(differLabel);
    controls.appendChild(wrap);
    selects.push(() => {
      differ.checked = state.differ;
      const [, counts] = countBy("differ", (item) => (item[3] ? [0] : []), 1);
      differLabel.textContent = `only where the runs differ (${counts[0]})`;
    });
  }
  const matchCount = el("span");
  matchCount.id = "match-count";
  controls.appendChild(matchCount);
  const pager = el("span", "pager");
  const prev = el("button", null, "◀ prev");
  const pageInfo = el("span");
  pageInfo.id = "page-info";
  const next = el("button", null, "next ▶");
  prev.name = "prev";
  next.name = "next";
  prev.addEventListener("click", () => {
    state.page -= 1;
    update();
  });
  next.addEventListener("click", () => {
    state.page += 1;
    update();
  });
  pager.append(prev, pageInfo, next);
  controls.appendChild(pager);

  // --- cards ------------------------------------------------------------------------------------
  const cards = document.getElementById("cards");

  function chip(text, tone) {
    return el("span", "chip" + (tone ? " " + tone : ""), text);
  }

  function renderField(field) {
    const [label, text, kind] = field;
    if (kind === "details") {
      const box = el("details", "field");
      box.appendChild(el("summary", "label", label));
      box.appendChild(el("pre", null, text));
      return box;
    }
    const box = el("div", "field");
    box.appendChild(el("span", "label", label));
    if (kind === "pre") box.appendChild(el("pre", null, text));
    else box.appendChild(el("span", "value", text));
    return box;
  }

  function renderTurn(turn) {
    const row = el("div", "turn");
    if (turn.img) {
      const img = el("img");
      img.loading = "lazy";
      img.src = turn.img;
      img.alt = turn.caption || "";
      row.appendChild(img);
    } else if (turn.img === null) {
      row.appendChild(el("div", "noimg", "(image not available)"));
    }
    const body = el("div", "body");
    const caption = el("div", "caption", turn.caption || "");
    if (turn.badge) caption.prepend(chip(turn.badge, turn.tone), " ");
    body.appendChild(caption);
    (turn.fields || []).forEach((f) => body.appendChild(renderField(f)));
    row.appendChild(body);
    return row;
  }

  function renderRun(label, detail) {
    const column = el("div", "run");
    column.appendChild(el("h3", null, label));
    if (!detail) {
      column.appendChild(el("div", "missing", "not in this run"));
      return column;
    }
    column.appendChild(el("div", "ending", detail.head || ""));
    (detail.notes || []).forEach((f) => column.appendChild(renderField(f)));
    (detail.turns || []).forEach((t) => column.appendChild(renderTurn(t)));
    return column;
  }

  function renderCard(index) {
    const item = items[index];
    const card = el("article", "card");
    card.dataset.index = String(index);
    const head = el("div", "head");
    head.appendChild(el("span", "title", item[0]));
    facets.forEach((f, i) => head.appendChild(chip((i ? f.label + " " : "") + f.values[item[1][i]])));
    item[2].forEach((runTags, r) => {
      const prefix = data.runs.length > 1 ? data.runs[r] + ": " : "";
      runTags.forEach((t) => head.appendChild(chip(prefix + tags[t].label, tags[t].tone)));
    });
    if (item[3]) head.appendChild(chip("runs differ", "warn"));
    card.appendChild(head);
    const body = el("div", "runs");
    body.style.gridTemplateColumns = `repeat(${data.runs.length}, minmax(0, 1fr))`;
    body.appendChild(el("div", "missing", "loading…"));
    card.appendChild(body);
    const chunk = Math.floor(index / data.chunk_size);
    loadChunk(chunk, () => {
      body.textContent = "";
      const details = chunks.get(chunk);
      if (!details) {
        body.appendChild(el("div", "missing", `could not load ${data.chunk_dir} chunk ${chunk}`));
        return;
      }
      const detail = details[index % data.chunk_size];
      data.runs.forEach((run, r) => body.appendChild(renderRun(run, detail.runs[r])));
      card.classList.add("loaded");
    });
    return card;
  }

  function update() {
    selects.forEach((fill) => fill());
    const shown = [];
    items.forEach((item, i) => {
      if (matches(item, null)) shown.push(i);
    });
    const pages = Math.max(1, Math.ceil(shown.length / data.page_size));
    state.page = Math.min(Math.max(1, state.page), pages);
    const start = (state.page - 1) * data.page_size;
    matchCount.textContent = `${shown.length} ${data.item_noun} match`;
    matchCount.dataset.count = String(shown.length);
    pageInfo.textContent = `page ${state.page} of ${pages}`;
    prev.disabled = state.page <= 1;
    next.disabled = state.page >= pages;
    cards.textContent = "";
    shown.slice(start, start + data.page_size).forEach((i) => cards.appendChild(renderCard(i)));
    if (!shown.length) {
      const none = el("p", "missing", `no ${data.item_noun} match these filters`);
      none.id = "no-match";
      cards.appendChild(none);
    }
    writeHash();
  }

  readHash();
  window.addEventListener("hashchange", () => {
    readHash();
    update();
  });
  update();
})();
