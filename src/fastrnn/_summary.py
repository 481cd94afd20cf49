"""The text of ``Sequential.summary()``, drawn as Keras 3 draws it."""


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0


def summary_text(model, widths=(33, 24, 15)):
    w1, w2, w3 = widths
    rows = []
    for layer in model.layers:
        shape = "?" if not layer.built else str((None,) + tuple(layer.output_shape))
        shape = shape.replace(",)", ")")
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))

    def line(left, mid, right, fill):
        return left + fill * w1 + mid + fill * w2 + mid + fill * w3 + right

    def row(a, b, c):
        # Keras wraps a long "name (Type)" onto a second line: "name" then "(Type)".
        if len(a) > w1 - 2 and " (" in a:
            name, kind = a.split(" (", 1)
            return (f"│ {name:<{w1 - 2}} │ {b:<{w2 - 2}} │ {c:>{w3 - 2}} │\n"
                    f"│ {'(' + kind:<{w1 - 2}} │ {'':<{w2 - 2}} │ {'':>{w3 - 2}} │")
        return f"│ {a:<{w1 - 2}} │ {b:<{w2 - 2}} │ {c:>{w3 - 2}} │"

    out = [f'Model: "{model.name}"',
           line("┏", "┳", "┓", "━"),
           f"┃ {'Layer (type)':<{w1 - 2}} ┃ {'Output Shape':<{w2 - 2}} ┃ {'Param #':>{w3 - 2}} ┃",
           line("┡", "╇", "┩", "━")]
    for i, r in enumerate(rows):
        out.append(row(*r))
        out.append(line("├", "┼", "┤", "─") if i < len(rows) - 1 else line("└", "┴", "┘", "─"))
    if not rows:
        out.append(line("└", "┴", "┘", "─"))
    total = sum(l.count_params() for l in model.layers if l.built)
    trainable = sum(l.count_params() for l in model.layers if l.built and l.trainable)
    nbytes = sum(w.nbytes for l in model.layers if l.built for w in l.weights)
    tbytes = sum(w.nbytes for l in model.layers if l.built and l.trainable for w in l.weights)
    out.append(f" Total params: {total:,} ({_fmt_bytes(nbytes)})")
    out.append(f" Trainable params: {trainable:,} ({_fmt_bytes(tbytes)})")
    out.append(f" Non-trainable params: {total - trainable:,} ({_fmt_bytes(nbytes - tbytes)})")
    return "\n".join(out)
