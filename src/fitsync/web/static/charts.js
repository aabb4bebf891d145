// Charts with uPlot: data comes from <script type="application/json"> next to each chart.
(() => {
  "use strict";
  const css = getComputedStyle(document.documentElement);
  const brand = css.getPropertyValue("--brand").trim() || "#0f766e";
  const accent = css.getPropertyValue("--accent").trim() || "#f59e0b";
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const width = (el) => Math.max(260, el.clientWidth);
  const axis = { stroke: "#52606d", grid: { stroke: "#eef2f6" }, ticks: { stroke: "#e2e8f0" } };
  const charts = [];
  // Times on the axes in the gym's time zone, as on the rest of the page.
  const inZone = (el) => el.dataset.tz ? (ts) => uPlot.tzDate(new Date(ts * 1e3), el.dataset.tz) : undefined;

  const weight = document.getElementById("weight-chart");
  if (weight) {
    const d = read("weight-data");
    charts.push([weight, new uPlot({
      width: width(weight), height: 220, legend: { show: false }, tzDate: inZone(weight),
      scales: { x: { time: true } },
      axes: [axis, { ...axis, label: "kg" }],
      series: [{}, { label: "Weight", stroke: "#94a3b8", width: 0, points: { show: true, size: 5, fill: "#94a3b8" } },
        { label: "7-day average", stroke: brand, width: 2.5 }],
    }, [d.t, d.value, d.avg], weight)]);
  }

  const activity = document.getElementById("activity-chart");
  if (activity) {
    const d = read("activity-data");
    const hasPower = d.power.some((v) => v !== null);
    const series = [{},
      { label: "Heart rate (bpm)", stroke: "#dc2626", width: 2, scale: "bpm", spanGaps: true }];
    const data = [d.t, d.hr];
    const axes = [axis, { ...axis, scale: "bpm", label: "bpm" }];
    if (hasPower) {
      series.push({ label: "Power (W)", stroke: accent, width: 1.5, scale: "W", spanGaps: true });
      data.push(d.power);
      axes.push({ ...axis, scale: "W", side: 1, label: "W", grid: { show: false } });
    }
    charts.push([activity, new uPlot({
      width: width(activity), height: 320, scales: { x: { time: true } }, axes, series,
      tzDate: inZone(activity),
    }, data, activity)]);
  }

  window.addEventListener("resize", () => {
    for (const [el, chart] of charts) chart.setSize({ width: width(el), height: chart.height });
  });
})();
