// Pointer handling shared by the canvas views (the DAG, the timeline): a
// press that moves more than a few pixels is a drag, one that does not is
// a click; moves without a press are hovers.

const CLICK_SLOP = 4; // pixels a press may move and still be a click

/**
 * pointer listens on canvas. onDragStart() is called when a press starts
 * (return what onDrag needs to remember), onDrag(dx, dy, start) while it
 * moves beyond the slop, onClick(e) when it ends without moving, onHover(e)
 * on moves without a press, onLeave() when the pointer leaves.
 */
export function pointer(canvas, { onDragStart, onDrag, onClick, onHover, onLeave }) {
  let press = null;
  canvas.addEventListener('pointerdown', (e) => {
    press = { x: e.clientX, y: e.clientY, start: onDragStart(), moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!press) {
      if (onHover) onHover(e);
      return;
    }
    const dx = e.clientX - press.x;
    const dy = e.clientY - press.y;
    if (!press.moved && Math.abs(dx) + Math.abs(dy) < CLICK_SLOP) return;
    press.moved = true;
    canvas.classList.add('dragging');
    onDrag(dx, dy, press.start);
  });
  canvas.addEventListener('pointerup', (e) => {
    const p = press;
    press = null;
    canvas.classList.remove('dragging');
    if (p && !p.moved) onClick(e);
  });
  canvas.addEventListener('pointerleave', () => onLeave && onLeave());
}
