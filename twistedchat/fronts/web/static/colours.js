// A user's colour as the terminal client shows it: the User's colour is an
// xterm-256 index, and these are the RGB values of xterm's palette for it.
// A nick is shown on that colour, in black or white, whichever reads better
// (WCAG contrast), so every colour of the palette stays readable.

const SYSTEM = [
  [0, 0, 0], [205, 0, 0], [0, 205, 0], [205, 205, 0],
  [0, 0, 238], [205, 0, 205], [0, 205, 205], [229, 229, 229],
  [127, 127, 127], [255, 0, 0], [0, 255, 0], [255, 255, 0],
  [92, 92, 255], [255, 0, 255], [0, 255, 255], [255, 255, 255],
];
const CUBE = [0, 95, 135, 175, 215, 255];

/** The [r, g, b] xterm shows for the 256-colour index. */
export function xtermRgb(index) {
  const n = Math.max(0, Math.min(255, Math.trunc(Number(index)) || 0));
  if (n < 16) return SYSTEM[n];
  if (n < 232) {
    const cube = n - 16;
    return [CUBE[Math.floor(cube / 36)], CUBE[Math.floor(cube / 6) % 6], CUBE[cube % 6]];
  }
  const grey = 8 + (n - 232) * 10;
  return [grey, grey, grey];
}

function luminance([r, g, b]) {
  const linear = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** The colour and the text colour (black or white) of a nick chip. */
export function chipColours(index) {
  const rgb = xtermRgb(index);
  const l = luminance(rgb);
  const onBlack = (l + 0.05) / 0.05;
  const onWhite = 1.05 / (l + 0.05);
  return {
    background: `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`,
    text: onBlack >= onWhite ? "rgb(0, 0, 0)" : "rgb(255, 255, 255)",
  };
}
