import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatBytes } from '../../units.js';
import { indexOfCall, type RunModel } from './model.js';

// The two charts over the run (uPlot): the heap's figures after every call, and live bytes by call site
// stacked. Both share one x range (drag to zoom, wheel to zoom, shift+wheel to pan, double-click to reset),
// show the phases (mark() labels) as bands, the peak and the selected call as lines; a click selects a call.

export type XAxis = 'calls' | 'instructions' | 'time';

export interface Timeline {
  select(call: number): void;
  setAxis(axis: XAxis): void;
}

const PHASE_FILLS = ['rgba(68,119,170,0.07)', 'rgba(204,187,68,0.10)'];

function xValues(model: RunModel, axis: XAxis): Float64Array {
  if (axis === 'calls') return model.call;
  if (axis === 'instructions') return model.instructions;
  const seconds = Number(model.meta.run.seconds) || 0;
  const total = Number(model.meta.run.instructions) || 1;
  return model.instructions.map((count) => (count / total) * seconds * 1000);
}

/** Axis ticks: short enough for the axis gutter. */
function compactBytes(bytes: number): string {
  if (Math.abs(bytes) < 1024) return `${bytes} B`;
  if (Math.abs(bytes) < 1024 * 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${Number((bytes / 1024 / 1024).toFixed(1))} MiB`;
}

const AXIS_LABEL: Record<XAxis, string> = {
  calls: 'heap call',
  instructions: 'instructions',
  time: 'time (ms, estimated)',
};

export function createTimeline(
  model: RunModel,
  figures: HTMLElement,
  sites: HTMLElement,
  onSelect: (call: number) => void,
): Timeline {
  let axis: XAxis = 'calls';
  let selected = 0;
  const width = (): number => Math.max(480, figures.clientWidth || 960);
  /** The x position of a call on the current axis. */
  const xOf = (call: number): number | null => {
    const index = indexOfCall(model, call);
    if (index < 0) return null;
    return xValues(model, axis)[index]!;
  };

  // The selected call is an element over the canvas, not drawn in it: moving it must not redraw 100k points.
  const markers = new Map<uPlot, HTMLElement>();
  const placeMarker = (plot: uPlot): void => {
    let marker = markers.get(plot);
    if (!marker) {
      marker = document.createElement('div');
      marker.className = 'selected-call';
      plot.over.appendChild(marker);
      markers.set(plot, marker);
    }
    const x = xOf(selected);
    const position = x === null ? -1 : plot.valToPos(x, 'x');
    // bbox, not clientWidth: reading layout right after the map was redrawn would force a synchronous layout.
    marker.style.display = position < 0 || position > plot.bbox.width / devicePixelRatio ? 'none' : 'block';
    marker.style.left = `${position}px`;
  };

  const overlay = {
    hooks: {
      drawClear: [
        (plot: uPlot) => {
          const context = plot.ctx;
          const { top, height } = plot.bbox;
          model.phases.forEach((phase, index) => {
            const from = xOf(Math.max(phase.fromCall, 1)) ?? xOf(1);
            const to = xOf(phase.toCall);
            if (from === null || to === null) return;
            const left = plot.valToPos(from, 'x', true);
            const right = plot.valToPos(to, 'x', true);
            context.fillStyle = PHASE_FILLS[index % PHASE_FILLS.length]!;
            context.fillRect(left, top, Math.max(1, right - left), height);
            context.fillStyle = '#555';
            context.font = `${11 * devicePixelRatio}px sans-serif`;
            context.fillText(phase.label, left + 3 * devicePixelRatio, top + 12 * devicePixelRatio);
          });
        },
      ],
      draw: [
        (plot: uPlot) => {
          const context = plot.ctx;
          const { top, height } = plot.bbox;
          const line = (call: number, colour: string, dash: number[], label: string): void => {
            const x = xOf(call);
            if (x === null) return;
            const position = plot.valToPos(x, 'x', true);
            context.save();
            context.strokeStyle = colour;
            context.setLineDash(dash.map((value) => value * devicePixelRatio));
            context.lineWidth = 1.5 * devicePixelRatio;
            context.beginPath();
            context.moveTo(position, top);
            context.lineTo(position, top + height);
            context.stroke();
            if (label) {
              context.fillStyle = colour;
              context.font = `${11 * devicePixelRatio}px sans-serif`;
              context.fillText(label, position + 3 * devicePixelRatio, top + height - 4 * devicePixelRatio);
            }
            context.restore();
          };
          if (model.peakCall > 0) line(model.peakCall, '#d62728', [4, 3], 'peak');
          if (model.meta.run.result !== 'ok') line(model.lastCall, '#000', [2, 2], String(model.meta.run.result));
          placeMarker(plot);
        },
      ],
    },
  };

  const bytesAxis = (scale: string, side: number) => ({
    scale,
    side,
    size: 64,
    grid: { show: side === 3 },
    values: (_plot: uPlot, ticks: number[]) => ticks.map((tick) => compactBytes(tick)),
  });
  const common = (title: string, height: number): Partial<uPlot.Options> => ({
    title,
    width: width(),
    height,
    cursor: { sync: { key: 'tlsf-timeline', setSeries: false }, drag: { x: true, y: false } },
    scales: { x: { time: false }, '%': { range: [0, 1] } },
    plugins: [overlay],
  });
  const bytesValue = (_plot: uPlot, value: number | null): string => (value === null ? '' : formatBytes(value));
  const figuresData = (x: Float64Array): uPlot.AlignedData =>
    [x, model.used, model.requested, model.largestFree, model.free, model.fragmentation] as uPlot.AlignedData;
  // Used and requested bytes on the left axis; free and largest free (often ten times larger) on the right;
  // fragmentation spans the height (0..100%) with its value in the legend.
  const figuresPlot = new uPlot(
    {
      ...common('Heap over the run', 300),
      series: [
        { label: AXIS_LABEL.calls },
        { label: 'used', stroke: '#4477aa', width: 1.5, scale: 'bytes', value: bytesValue },
        { label: 'requested', stroke: '#228833', width: 1, scale: 'bytes', value: bytesValue },
        { label: 'largest free (right)', stroke: '#ccbb44', width: 1, scale: 'free', value: bytesValue },
        { label: 'free (right)', stroke: '#aaaaaa', width: 1, scale: 'free', value: bytesValue },
        {
          label: 'fragmentation',
          stroke: '#aa3377',
          width: 1,
          scale: '%',
          value: (_plot, value) => (value === null ? '' : `${(value * 100).toFixed(1)}%`),
        },
      ],
      axes: [{}, bytesAxis('bytes', 3), bytesAxis('free', 1)],
    } as uPlot.Options,
    figuresData(xValues(model, axis)),
    figures,
  );

  // Stacked: drawn from the top of the stack down, each filled to zero, so each band shows one site's bytes.
  const stackOrder = [...model.siteSeries.keys()].reverse();
  const sitesData = (x: Float64Array): uPlot.AlignedData =>
    [x, ...stackOrder.map((slot) => model.siteSeries[slot]!.values)] as uPlot.AlignedData;
  const sitesPlot = new uPlot(
    {
      ...common('Live bytes by allocating call site (stacked)', 240),
      series: [
        { label: AXIS_LABEL.calls },
        ...stackOrder.map((slot) => {
          const series = model.siteSeries[slot]!;
          const below = slot > 0 ? model.siteSeries[slot - 1]!.values : null;
          return {
            label: series.name,
            stroke: series.colour,
            fill: series.colour,
            width: 0.5,
            // The legend shows the site's own bytes, not the stacked total.
            value: (_plot: uPlot, value: number | null, _series: number, index: number | null) =>
              value === null || index === null ? '' : formatBytes(value - (below ? below[index]! : 0)),
          };
        }),
      ],
      axes: [{}, bytesAxis('y', 3)],
    } as uPlot.Options,
    sitesData(xValues(model, axis)),
    sites,
  );

  const plots = [figuresPlot, sitesPlot];
  // One x range for both charts.
  let syncing = false;
  for (const plot of plots) {
    plot.hooks.setScale = [
      ...(plot.hooks.setScale ?? []),
      (source: uPlot, key: string) => {
        if (key !== 'x' || syncing) return;
        syncing = true;
        const range = { min: source.scales.x!.min!, max: source.scales.x!.max! };
        for (const other of plots) if (other !== source) other.setScale('x', range);
        syncing = false;
      },
    ];
    const over = plot.over;
    let downX = -1;
    over.addEventListener('mousedown', (event) => {
      downX = event.clientX;
    });
    over.addEventListener('click', (event) => {
      // A drag zooms; only a click without movement selects.
      if (Math.abs(event.clientX - downX) > 3 || plot.cursor.idx === null || plot.cursor.idx === undefined) return;
      onSelect(model.call[plot.cursor.idx]!);
    });
    over.addEventListener('dblclick', () => resetZoom());
    over.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const { min, max } = plot.scales.x as { min: number; max: number };
        const range = max - min;
        if (event.shiftKey) {
          const shift = (range * Math.sign(event.deltaY || event.deltaX)) / 10;
          plot.setScale('x', { min: min + shift, max: max + shift });
          return;
        }
        const at = plot.posToVal(event.offsetX, 'x');
        const factor = event.deltaY < 0 ? 0.8 : 1.25;
        plot.setScale('x', { min: at - (at - min) * factor, max: at + (max - at) * factor });
      },
      { passive: false },
    );
  }
  const resetZoom = (): void => {
    const values = xValues(model, axis);
    if (values.length === 0) return;
    figuresPlot.setScale('x', { min: values[0]!, max: values[values.length - 1]! });
  };
  addEventListener('resize', () => {
    for (const plot of plots) plot.setSize({ width: width(), height: plot.height });
  });

  return {
    select(call: number) {
      selected = call;
      for (const plot of plots) placeMarker(plot);
    },
    setAxis(next: XAxis) {
      axis = next;
      const x = xValues(model, axis);
      figuresPlot.series[0]!.label = AXIS_LABEL[axis];
      sitesPlot.series[0]!.label = AXIS_LABEL[axis];
      figuresPlot.setData(figuresData(x));
      sitesPlot.setData(sitesData(x));
    },
  };
}
