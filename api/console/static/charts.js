// ECharts (vendored, static/vendor) with the console's defaults. Charts are
// drawn with SVG so they stay sharp and print well; each is disposed when its
// page is left (app.js calls disposeAll).
const live = new Set();

export function chart(node, option) {
  const instance = window.echarts.init(node, null, { renderer: 'svg' });
  instance.setOption({ animation: false, textStyle: { fontFamily: 'inherit' }, ...option });
  live.add(instance);
  return instance;
}

export function disposeAll() {
  for (const instance of live) instance.dispose();
  live.clear();
}

window.addEventListener('resize', () => { for (const instance of live) instance.resize(); });
