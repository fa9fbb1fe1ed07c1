// The testbed's live view: draws /api/topology once, then polls each part as often as it says (poll_s: loads
// every second). Actions send the token from this page's address (#token=...).
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 1000, HEIGHT = 620;
const KIND_COLOURS = {'host': '#4a90d9', 'switch': '#7b61c4', 'router': '#d9822b', '6to4 router': '#c0392b',
                      'relay': '#8e44ad', 'tunnel endpoint': '#16a085', 'translator': '#b8860b',
                      'tunnel broker': '#2c3e50', 'DNS': '#7f8c8d'};
const token = new URLSearchParams(location.hash.slice(1)).get('token');
let topology = null;
let selected = null;

function $(id) { return document.getElementById(id); }

function el(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function rate(bps) {
  if (bps === null || bps === undefined) return '-';
  if (bps >= 1e9) return (bps / 1e9).toFixed(2) + ' Gb/s';
  if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mb/s';
  if (bps >= 1e3) return (bps / 1e3).toFixed(1) + ' kb/s';
  return bps.toFixed(0) + ' b/s';
}

function say(message, isError) {
  $('status').textContent = message;
  $('status').className = isError ? 'error' : '';
}

async function api(method, path, body) {
  const headers = token ? {'X-Testbed-Token': token} : {};
  const request = {method: method, headers: headers};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    request.body = JSON.stringify(body);
  }
  const answer = await fetch(path, request);
  const result = await answer.json();
  if (!answer.ok) throw new Error(result.error || answer.statusText);
  return result;
}

function point(name) {
  const node = topology.nodes.find(n => n.name === name);
  return [40 + node.position[0] * (WIDTH - 80), 30 + node.position[1] * (HEIGHT - 60)];
}

function draw() {
  const svg = $('topology');
  svg.replaceChildren();
  for (const link of topology.links) {
    const [x1, y1] = point(link.a), [x2, y2] = point(link.b);
    const line = el('line', {x1: x1, y1: y1, x2: x2, y2: y2, id: 'link-' + link.id, 'data-link': link.id,
                             class: link.up ? 'u0' : 'down'});
    const shaping = (link.bw ? rate(link.bw) : 'unshaped') + (link.delay ? ', ' + link.delay * 1000 + ' ms' : '');
    line.appendChild(el('title', {}, link.id + ' (' + shaping + ')'));
    line.addEventListener('click', () => select(link));
    svg.appendChild(line);
    svg.appendChild(el('text', {x: (x1 + x2) / 2 + 4, y: (y1 + y2) / 2 - 4, class: 'load',
                                id: 'load-' + link.id}, ''));
  }
  for (const node of topology.nodes) {
    const [x, y] = point(node.name);
    const colour = KIND_COLOURS[node.kind] || '#4a90d9';
    const shape = node.kind === 'switch'
      ? el('rect', {x: x - 14, y: y - 11, width: 28, height: 22, rx: 3, fill: colour})
      : el('circle', {cx: x, cy: y, r: node.kind === 'host' ? 10 : 13, fill: colour});
    shape.appendChild(el('title', {}, node.name + ' (' + node.kind + ')'));
    svg.appendChild(shape);
    svg.appendChild(el('text', {x: x + 15, y: y + 4, id: 'node-' + node.name}, node.name));
  }
}

function select(link) {
  selected = link;
  document.querySelectorAll('svg line.selected').forEach(line => line.classList.remove('selected'));
  $('link-' + link.id).classList.add('selected');
  $('selected').hidden = false;
  $('selected-name').textContent = link.a + ' \u2013 ' + link.b;
  $('selected-detail').textContent = '(' + link.a_intf + ' \u2194 ' + link.b_intf + ')';
}

async function setLink(up) {
  if (!selected) return;
  try {
    const done = await api('POST', '/api/links/' + encodeURIComponent(selected.a) + '/' +
                           encodeURIComponent(selected.b) + '/' + (up ? 'up' : 'down'));
    selected.up = done.up;
    $('link-' + selected.id).setAttribute('class', (done.up ? 'u0' : 'down') + ' selected');
    say('link ' + done.link + (done.up ? ' up' : ' down'));
    for (const delay of [300, 1300]) setTimeout(() => { poll('/api/tables', showTables);
                                                        poll('/api/control', showControl); }, delay);
  } catch (error) {
    say(error.message, true);
  }
}

function showLoads(loads) {
  const body = $('loads').tBodies[0];
  body.replaceChildren();
  for (const load of loads.links) {
    const link = topology.links.find(l => l.id === load.id);
    if (load.up !== null) link.up = load.up;   // read from the interfaces: whoever set them down or up
    const level = !link.up ? 'down' : load.utilisation === null ? 'u0' : load.utilisation < 0.01 ? 'u0'
      : load.utilisation < 0.5 ? 'u1' : load.utilisation < 0.9 ? 'u2' : 'u3';
    const line = $('link-' + load.id);
    line.setAttribute('class', level + (selected && selected.id === load.id ? ' selected' : ''));
    const ab = load.ab ? load.ab.bps : null, ba = load.ba ? load.ba.bps : null;
    $('load-' + load.id).textContent = (ab || ba) ? rate(ab) + ' \u2192 / ' + rate(ba) + ' \u2190' : '';
    const row = body.insertRow();
    row.dataset.link = load.id;
    cell(row, load.id);
    cell(row, linkState(link, load), 'state');
    cell(row, link.bw ? rate(link.bw) : 'unshaped');
    cell(row, rate(ab), 'num ab');
    cell(row, rate(ba), 'num ba');
    cell(row, ((load.ab ? load.ab.pps : 0) + (load.ba ? load.ba.pps : 0)).toFixed(0), 'num');
    cell(row, load.utilisation === null ? '-' : (100 * load.utilisation).toFixed(1) + ' %', 'num');
    const queues = [load.ab, load.ba].filter(end => end && end.queue).map(end => end.queue);
    cell(row, queues.length ? queues.map(q => q.packets + ' pkts, ' + q.drops_per_s.toFixed(0) + ' drops/s')
      .join(' | ') : '-', 'queue');
    const lines = [load.ab, load.ba].filter(end => end && end.line).map(end => end.line);
    cell(row, lines.length ? lines.map(l => l.in_flight + ' in flight, ' + (l.lost_per_s + l.overflow_per_s)
      .toFixed(0) + ' lost/s').join(' | ') : '-', 'wire');
  }
}

function linkState(link, load) {
  if (!load.ends) return '?';
  const ends = [[link.a, load.ends.a], [link.b, load.ends.b]];
  return ends.every(([, state]) => state === 'up') ? 'up'
    : ends.filter(([, state]) => state !== 'up').map(([node, state]) => node + ' ' + (state || 'gone')).join(', ');
}

function showTables(answer) {
  const box = $('tables');
  box.replaceChildren();
  if (answer.note) box.textContent = answer.note;
  for (const [switchName, rows] of Object.entries(answer.tables)) {
    const table = document.createElement('table');
    table.id = 'table-' + switchName;
    table.createCaption().textContent = switchName + (Array.isArray(rows) ? ' (' + rows.length + ' entries)' : '');
    const head = table.createTHead().insertRow();
    for (const title of ['destination', 'prefix', 'next hop', 'packets']) head.appendChild(
      Object.assign(document.createElement('th'), {textContent: title}));
    const body = table.createTBody();
    for (const entry of Array.isArray(rows) ? rows : []) {
      const row = body.insertRow();
      row.className = 'entry';
      cell(row, entry.destination);
      cell(row, entry.prefix);
      cell(row, 'port ' + entry.port + ' \u2192 ' + entry.neighbour);
      cell(row, entry.packets, 'num');
    }
    box.appendChild(table);
  }
}

function showControl(answer) {
  const list = $('timeline');
  list.replaceChildren();
  for (const event of answer.timeline.slice(-10).reverse()) {
    const item = document.createElement('li');
    item.className = 'event';
    const after = key => event[key] === undefined ? key + ' -' :
      key + ' +' + ((event[key] - event.received) * 1000).toFixed(1) + ' ms';
    item.textContent = event.event + ': ' + ['computed', 'sent', 'acknowledged'].map(after).join(', ') +
      ' (' + (event.flow_mods || 0) + ' FlowMods)';
    list.appendChild(item);
  }
  if (!answer.timeline.length) list.appendChild(Object.assign(document.createElement('li'),
    {textContent: answer.note || 'no event yet'}));
  const body = $('circuit-list').tBodies[0];
  body.replaceChildren();
  for (const circuit of (answer.circuits && answer.circuits.circuits) || []) {
    const row = body.insertRow();
    row.dataset.circuit = circuit.id;
    for (const text of [circuit.id, circuit.src, circuit.dst, rate(circuit.rate), circuit.path.join(' \u2192 ')]) {
      cell(row, text);
    }
    const button = Object.assign(document.createElement('button'), {textContent: 'Tear down'});
    button.addEventListener('click', () => circuitAction('DELETE', '/api/circuits/' + circuit.id));
    row.insertCell().appendChild(button);
  }
}

async function circuitAction(method, path, body) {
  try {
    const done = await api(method, path, body);
    say(method === 'DELETE' ? 'circuit ' + done.id + ' torn down' : 'circuit ' + done.id + ' reserved');
    poll('/api/control', showControl);
  } catch (error) {
    say(error.message, true);
  }
}

function showResults(answer) {
  const list = $('results');
  list.replaceChildren();
  for (const folder of answer.folders) {
    const item = Object.assign(document.createElement('li'), {textContent: folder.name + ': '});
    for (const name of folder.files) {
      item.appendChild(Object.assign(document.createElement('a'), {
        href: '/api/results/' + encodeURIComponent(folder.name) + '/' + encodeURIComponent(name),
        target: '_blank', textContent: name}));
      item.append(' ');
    }
    list.appendChild(item);
  }
  if (!answer.folders.length) list.appendChild(Object.assign(document.createElement('li'),
    {textContent: 'nothing in ' + answer.root + ' yet (testbed experiment run ...)'}));
}

function showTunnels(answer) {
  const body = $('tunnels').tBodies[0];
  body.replaceChildren();
  $('tunnels').hidden = !Object.keys(answer.tunnels).length;
  $('no-tunnels').hidden = !$('tunnels').hidden;
  for (const [name, row] of Object.entries(answer.tunnels)) {
    const decap = row.counters.decap || {}, encap = row.counters.encap || {};
    const drops = Object.entries(decap).filter(([key, value]) => key.startsWith('drop_') && value)
      .map(([key, value]) => key.slice(5) + ' ' + value).join(', ');
    const tr = body.insertRow();
    tr.dataset.node = name;
    for (const text of [name, row.mode || '6to4', row.role, row.path || '']) cell(tr, text);
    if (row.counters.sessions !== undefined) {
      cell(tr, row.counters.sessions + ' sessions (state per flow)').colSpan = 4;
      continue;
    }
    cell(tr, decap.received || 0, 'num decap');
    cell(tr, decap.delivered || 0, 'num');
    cell(tr, encap.sent || 0, 'num encap');
    cell(tr, drops || '-');
  }
}

async function capture() {
  if (!selected) return;
  try {
    const started = await api('POST', '/api/captures', {a: selected.a, b: selected.b,
                                                         seconds: Number($('capture-seconds').value)});
    say('capturing on ' + started.interface + ' for ' + started.seconds + ' s');
    poll('/api/captures', showCaptures);
  } catch (error) {
    say(error.message, true);
  }
}

function showCaptures(answer) {
  const list = $('captures');
  list.replaceChildren();
  for (const item of answer.captures) {
    const entry = document.createElement('li');
    entry.className = 'capture ' + item.state;
    entry.dataset.capture = item.id;
    if (item.state === 'done') {
      const link = Object.assign(document.createElement('a'), {href: item.download,
        download: 'capture-' + item.id + '-' + item.link + '.pcap', textContent: 'download'});
      entry.append(item.link + ' (' + item.interface + ', ' + item.seconds + ' s, ' + item.bytes + ' bytes) ', link);
    } else {
      entry.textContent = item.link + ' (' + item.interface + '): capturing for ' + item.seconds + ' s';
    }
    list.appendChild(entry);
  }
}

async function measure(kind) {
  const body = {src: $('src').value, dst: $('dst').value};
  $('measure-result').textContent = kind + ' ' + body.src + ' \u2192 ' + body.dst + ' ...';
  try {
    const result = await api('POST', '/api/' + kind, body);
    $('measure-result').textContent = kind === 'ping'
      ? result.received + '/' + result.sent + ' replies, median RTT ' +
        (result.rtt_ms.median === undefined ? '-' : result.rtt_ms.median.toFixed(3) + ' ms')
      : rate(result.goodput_bps) + ' TCP goodput over ' + result.seconds + ' s';
  } catch (error) {
    $('measure-result').textContent = error.message;
  }
}

async function poll(path, show) {
  try {
    show(await api('GET', path));
  } catch (error) {
    say(path + ': ' + error.message, true);
  }
}

const SHOW = {'/api/loads': showLoads, '/api/tables': showTables, '/api/control': showControl,
              '/api/tunnels': showTunnels, '/api/captures': showCaptures, '/api/results': showResults};

async function main() {
  topology = await api('GET', '/api/topology');
  $('run').textContent = topology.run;
  $('token-state').textContent = token ? 'actions enabled' : 'read-only (open the address printed on the console)';
  draw();
  $('link-down').addEventListener('click', () => setLink(false));
  $('link-up').addEventListener('click', () => setLink(true));
  $('capture').addEventListener('click', capture);
  $('ping').addEventListener('click', () => measure('ping'));
  $('iperf').addEventListener('click', () => measure('iperf'));
  $('reserve').addEventListener('click', () => circuitAction('POST', '/api/circuits', {
    src: $('circuit-src').value, dst: $('circuit-dst').value, rate: Number($('circuit-rate').value) * 1e6}));
  for (const node of topology.nodes.filter(n => n.kind !== 'switch')) {
    for (const select of [$('src'), $('dst'), $('circuit-src'), $('circuit-dst')]) {
      select.appendChild(new Option(node.name, node.name));
    }
  }
  for (const select of [$('dst'), $('circuit-dst')]) select.selectedIndex = Math.min(1, select.options.length - 1);
  for (const [path, seconds] of Object.entries(topology.poll_s)) {
    poll(path, SHOW[path]);
    setInterval(() => poll(path, SHOW[path]), seconds * 1000);
  }
}

main().catch(error => say(error.message, true));
