/** The console's icon: a sluice gate, as SVG. */
export const CONSOLE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#0f5d8c"/><path d="M6 20c3 0 3-2 6-2s3 2 6 2 3-2 6-2 2 1 2 1v5H6z" fill="#7cc4fa"/><rect x="13" y="6" width="6" height="14" rx="1.5" fill="#fff"/></svg>`;
