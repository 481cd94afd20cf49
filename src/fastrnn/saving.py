"""Model and weight files: one zip archive, no pickle, nothing in a file is ever run.

``model.save('m.keras')`` writes a zip archive (the ``.keras`` name, as in Keras 3)
holding:

``metadata.json``
    ``{"format": "fastrnn", "format_version": 1, "kind": "model", "fastrnn_version",
    "date_saved", "input_shape", "layers": [{"name", "class_name", "weights":
    [{"name", "shape", "dtype"}, ...]}, ...]}``.  ``layers`` is the weight manifest,
    one entry per layer (layers without weights included), used to check a file
    against a model before anything is changed.
``config.json``
    ``{"class_name": "Sequential", "config": model.get_config(), "compile_config":
    {"optimizer": {"class_name", "config"}, "loss": {"class_name", "config"},
    "metrics": [names]} or null}``.  Each layer is ``{"class_name", "config"}``.
``weights.npz``
    ``np.savez`` archive: array ``layer_{i}_weight_{j}`` is weight j (Keras's order)
    of layer i (the model's ``layers`` index; Input is not a layer).
``optimizer.npz``
    present when the model is compiled: ``optimizer.get_state()`` (``iterations``
    and every slot), so that training resumes exactly where it stopped.

``save_weights('w.weights.h5')`` (or ``'w.weights.npz'``) writes the same archive
without ``config.json`` and ``optimizer.npz`` (``"kind": "weights"``).  Despite the
Keras 3 ``.weights.h5`` name the content is this zip/npz format, not HDF5.

Saving writes a temporary file in the destination directory and renames it over the
destination (``os.replace``), so an interrupted save leaves the previous file intact.

Loading never unpickles (``allow_pickle=False``; every ``.npy`` header is checked
before its data is read: real floating-point dtypes only, the exact shapes the model
needs, sizes bounded by the model) and never imports or looks anything up by name
outside two registries: the Layer subclasses exported by ``fastrnn.layers`` and the
classes or functions given in ``custom_objects``.  Every problem with a file (missing,
truncated, not a zip, a member missing or too large, unknown class, wrong shape, a
newer format version, ...) raises ``ValueError`` naming the file and the problem.
"""
import contextlib
import contextvars
import copy
import datetime
import io
import json
import math
import os
import re
import secrets
import struct
import zipfile
import zlib

import numpy as np

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "save_model", "load_model", "save_weights",
    "load_weights", "sequential_config", "sequential_from_config", "serialize_layer",
    "deserialize_layer", "layer_registry", "custom_object_scope",
]

FORMAT_NAME = "fastrnn"
FORMAT_VERSION = 1

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "weights.npz"
_OPTIMIZER = "optimizer.npz"
_KNOWN_MEMBERS = (_CONFIG, _METADATA, _WEIGHTS, _OPTIMIZER)

# Upper bound of a JSON member (uncompressed), and of the per-array overhead (npy
# header and zip entry) allowed on top of the model's own weight bytes.
_MAX_JSON_BYTES = 32 << 20
_NPY_OVERHEAD = 4096
_NPZ_OVERHEAD = 1 << 16
_MAX_FLOAT_ITEMSIZE = 8          # float16, float32, float64 only
_MAX_OPTIMIZER_SLOTS = 8         # slots per variable an optimizer state may hold
_WEIGHT_KEY = re.compile(r"layer_(\d+)_weight_(\d+)")
_MAX_WEIGHTS_PER_LAYER = 1 << 16

# What zipfile / zlib / struct raise on damaged archives (a bad offset gives OSError,
# an unknown compression method NotImplementedError, a mangled header struct.error).
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError,
                NotImplementedError, struct.error, OverflowError, OSError)

_custom_objects = contextvars.ContextVar("fastrnn_custom_objects", default=None)


class _FileExistsError(FileExistsError, ValueError):
    """The destination exists and overwrite=False (a FileExistsError and a ValueError)."""


class _FileNotFoundError(FileNotFoundError, ValueError):
    """The file to load does not exist (a ValueError as in Keras, and a FileNotFoundError)."""


# ============================================================== custom objects
@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Within this block, ``custom_objects`` ({name: class or function}) are known to
    ``load_model``, ``Sequential.from_config`` and ``deserialize_layer`` (Keras's
    ``keras.saving.custom_object_scope``)."""
    merged = dict(_custom_objects.get() or {})
    merged.update(_check_custom_objects(custom_objects))
    token = _custom_objects.set(merged)
    try:
        yield
    finally:
        _custom_objects.reset(token)


def _check_custom_objects(custom_objects):
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict {{name: class or function}}, "
                        f"got {type(custom_objects).__name__}.")
    for key in custom_objects:
        if not isinstance(key, str):
            raise TypeError(f"custom_objects keys must be strings, got {key!r}.")
    return custom_objects


def _all_custom_objects(custom_objects):
    merged = dict(_custom_objects.get() or {})
    merged.update(_check_custom_objects(custom_objects))
    return merged


# ================================================================== registry
def layer_registry(custom_objects=None):
    """{class name: class} of every Layer subclass exported by ``fastrnn.layers``
    (under its class name and its exported name), plus the Layer subclasses of
    ``custom_objects`` and of the active ``custom_object_scope``.  This is the only
    place a layer class named in a file is looked up."""
    from fastrnn import layers as layers_module
    from fastrnn.layers.base import Layer

    registry = {}
    for name, obj in vars(layers_module).items():
        if (not name.startswith("_") and isinstance(obj, type) and issubclass(obj, Layer)
                and obj is not Layer):
            registry[obj.__name__] = obj
            registry[name] = obj
    for name, obj in _all_custom_objects(custom_objects).items():
        if isinstance(obj, type) and issubclass(obj, Layer):
            registry[name] = obj
    return registry


def serialize_layer(layer):
    """``{"class_name": ..., "config": layer.get_config()}`` (wrappers use it for the
    layer they wrap)."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


_NESTED_LAYER_KEYS = ("layer", "backward_layer")


def _check_layer_entry(entry, registry, where):
    """Check a {"class_name", "config"} dict and return (class, config) without
    creating anything; nested wrapper layers are checked recursively."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a layer must be described by a dict with 'class_name' "
                         f"and 'config', got {type(entry).__name__}.")
    name = entry.get("class_name")
    if not isinstance(name, str):
        raise ValueError(f"{where}: the layer has no 'class_name' string "
                         f"(got {name!r}).")
    cls = registry.get(name)
    if cls is None:
        known = ", ".join(sorted({c.__name__ for c in registry.values()}))
        raise ValueError(f"{where}: unknown layer class {name[:200]!r}. fastrnn only "
                         f"creates the layers of fastrnn.layers ({known}) and the Layer "
                         "subclasses passed in custom_objects.")
    cfg = entry.get("config", {})
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: the 'config' of layer class {name!r} must be a dict, "
                         f"got {type(cfg).__name__}.")
    for key in _NESTED_LAYER_KEYS:
        inner = cfg.get(key)
        if isinstance(inner, dict) and "class_name" in inner:
            _check_layer_entry(inner, registry, f"{where} -> {key!r}")
    return cls, cfg


def deserialize_layer(config, custom_objects=None):
    """Create a layer from ``{"class_name", "config"}`` (the output of
    ``serialize_layer``).  The class is looked up in ``layer_registry`` only; a
    wrapper's nested ``"layer"`` / ``"backward_layer"`` configs are checked the same
    way before the wrapper's ``from_config`` runs (and that ``from_config`` may call
    ``deserialize_layer`` for them: custom objects stay in scope).  Any problem
    raises ValueError."""
    custom_objects = _all_custom_objects(custom_objects)
    registry = layer_registry(custom_objects)
    cls, cfg = _check_layer_entry(config, registry, "layer config")
    cfg = copy.deepcopy(cfg)
    if cls.__name__ == "InputLayer":
        cfg = _keras_input_layer_config(cfg)
    with custom_object_scope(custom_objects):
        try:
            layer = cls.from_config(cfg)
        except MemoryError as exc:
            raise ValueError(f"Layer class {cls.__name__!r}: the config asks for more "
                             "memory than is available.") from exc
        except Exception as exc:  # constructors raise TypeError, NotImplementedError, ...
            raise ValueError(f"Invalid config for layer class {cls.__name__!r} "
                             f"(name {cfg.get('name')!r}): {type(exc).__name__}: {exc}") \
                from exc
    from fastrnn.layers.base import Layer
    if not isinstance(layer, Layer):
        raise ValueError(f"{cls.__name__}.from_config returned {type(layer).__name__}, "
                         "not a fastrnn layer.")
    return layer


def _keras_input_layer_config(cfg):
    """Accept Keras 3's InputLayer config ({"batch_shape": [None, ...], "sparse", ...})."""
    if "shape" not in cfg and "batch_shape" in cfg:
        batch_shape = cfg.get("batch_shape")
        if not isinstance(batch_shape, (list, tuple)) or len(batch_shape) < 2:
            raise ValueError(f"InputLayer: invalid batch_shape {batch_shape!r}.")
        cfg = {"shape": list(batch_shape[1:]), "dtype": cfg.get("dtype"),
               "name": cfg.get("name")}
    for key in ("sparse", "ragged", "batch_size", "input_tensor", "optional"):
        if not cfg.get(key):
            cfg.pop(key, None)
    return cfg


# ============================================================ Sequential config
def sequential_config(model):
    """``Sequential.get_config()``: ``{"name", "layers": [{"class_name", "config"}],
    "input_shape"}`` (input_shape without the batch axis, or None)."""
    shape = model._input_shape
    return {"name": model.name,
            "layers": [serialize_layer(layer) for layer in model.layers],
            "input_shape": None if shape is None else list(shape)}


def sequential_from_config(config, custom_objects=None):
    """``Sequential.from_config``: build the model a ``get_config()`` describes
    (also accepts ``{"class_name": "Sequential", "config": ...}`` and Keras 3's
    Sequential config, whose first layer is an InputLayer)."""
    from fastrnn.layers.base import _check_shape
    from fastrnn.models import Sequential

    if isinstance(config, dict) and "class_name" in config and "layers" not in config:
        if config.get("class_name") != "Sequential":
            raise ValueError(f"Only Sequential models can be loaded, the config describes "
                             f"{str(config.get('class_name'))[:200]!r}.")
        config = config.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"A Sequential config must be a dict, got {type(config).__name__}.")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"The model name must be a string, got {name!r}.")
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise ValueError("A Sequential config needs a 'layers' list.")
    input_shape = config.get("input_shape")
    if input_shape is None and isinstance(config.get("build_input_shape"), (list, tuple)):
        input_shape = config["build_input_shape"][1:]          # Keras: batch axis first
    if input_shape is not None:
        if not isinstance(input_shape, (list, tuple)) or not 1 <= len(input_shape) <= 8:
            raise ValueError(f"Invalid input_shape {input_shape!r} in the model config.")
        input_shape = _check_shape(input_shape)

    custom_objects = _all_custom_objects(custom_objects)
    registry = layer_registry(custom_objects)
    for i, entry in enumerate(entries):       # every class name before creating anything
        _check_layer_entry(entry, registry, f"layer {i}")
    model = Sequential(name=name)
    for i, entry in enumerate(entries):
        layer = deserialize_layer(entry, custom_objects)
        try:
            model.add(layer)
        except MemoryError as exc:
            raise ValueError(_too_large(layer)) from exc
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ValueError(f"Layer {i} ({layer.name!r}) cannot be added to the model: "
                             f"{exc}") from exc
    if input_shape is not None:
        if model._input_shape is not None and tuple(model._input_shape) != input_shape:
            raise ValueError(f"The model config's input_shape {list(input_shape)} differs "
                             f"from its first layer's {list(model._input_shape)}.")
        try:
            if not model.layers:
                model._input_shape = input_shape
            elif not model.built:
                model.build(input_shape)
        except MemoryError as exc:
            culprit = next((l for l in model.layers if not l.built), None)
            raise ValueError(_too_large(culprit)) from exc
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ValueError(f"The model cannot be built for input_shape "
                             f"{list(input_shape)}: {exc}") from exc
    return model


def _too_large(layer):
    which = "the model" if layer is None else f"layer {layer.name!r} ({type(layer).__name__})"
    return f"{which} asks for more memory than can be allocated: its config is absurd."


# ================================================================ compile config
def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    from fastrnn import optimizers
    metrics = []
    for m in getattr(model, "_metric_ids", []):
        if isinstance(m, str):
            metrics.append(m)
        else:
            name = getattr(m, "name", None) or getattr(m, "__name__", None)
            if not isinstance(name, str):
                raise ValueError(f"Cannot save metric {m!r}: it has no name.")
            metrics.append(name)
    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": {"class_name": type(model.loss).__name__,
                     "config": model.loss.get_config()},
            "metrics": metrics}


def _optimizer_from_config(entry, custom_objects):
    from fastrnn import optimizers
    if isinstance(entry, dict) and isinstance(entry.get("class_name"), str):
        cls = custom_objects.get(entry["class_name"])
        if isinstance(cls, type) and issubclass(cls, optimizers.Optimizer):
            cfg = entry.get("config") or {}
            if not isinstance(cfg, dict):
                raise ValueError("The optimizer 'config' must be a dict.")
            return cls.from_config(dict(cfg))
    if not isinstance(entry, (str, dict)):
        raise ValueError(f"Invalid optimizer entry {type(entry).__name__} in the compile "
                         "config.")
    return optimizers.get(entry)


def _loss_from_config(entry, custom_objects):
    from fastrnn import losses
    if isinstance(entry, str):
        if entry in custom_objects:
            return losses.get(custom_objects[entry])
        return losses.get(entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError("The loss must be a name or a {'class_name', 'config'} dict.")
    name = entry["class_name"]
    cfg = entry.get("config") or {}
    if not isinstance(cfg, dict):
        raise ValueError("The loss 'config' must be a dict.")
    registry = {obj.__name__: obj for obj in vars(losses).values()
                if isinstance(obj, type) and issubclass(obj, losses.Loss)
                and obj is not losses.Loss}
    cls = custom_objects.get(name, registry.get(name))
    if cls is None:
        raise ValueError(f"Unknown loss class {name[:200]!r}; known: "
                         f"{', '.join(sorted(registry))} (pass others in custom_objects).")
    if isinstance(cls, type) and issubclass(cls, losses.Loss):
        from_config = getattr(cls, "from_config", None)
        return from_config(dict(cfg)) if from_config else cls(**cfg)
    return losses.get(cls)


def _metrics_from_config(entries, custom_objects):
    from fastrnn import metrics as metrics_module
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError("The compile config's 'metrics' must be a list of names.")
    out = []
    for m in entries:
        if not isinstance(m, str):
            raise ValueError(f"Metrics are saved by name, got {type(m).__name__}.")
        if m in custom_objects:
            out.append(custom_objects[m])
        else:
            metrics_module.get(m)        # an unknown name raises ValueError now
            out.append(m)
    return out


def _compile_from_config(model, compile_config, custom_objects):
    if not isinstance(compile_config, dict):
        raise ValueError("'compile_config' must be a dict.")
    try:
        optimizer = _optimizer_from_config(compile_config.get("optimizer"), custom_objects)
        loss = _loss_from_config(compile_config.get("loss"), custom_objects)
        metrics = _metrics_from_config(compile_config.get("metrics"), custom_objects)
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"Invalid compile config: {type(exc).__name__}: {exc}") from exc


# ================================================================== JSON helpers
def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _to_json(obj, what):
    try:
        return json.dumps(obj, default=_json_default, indent=1).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot save the {what}: {exc}. Every get_config() must return "
                         "JSON-compatible values (numbers, strings, lists, dicts).") from exc


# ==================================================================== writing
def _weights_manifest(model):
    layers = []
    for layer in model.layers:
        weights = list(layer.weights)
        names = list(getattr(layer, "_weight_names", []))
        if len(names) != len(weights):
            names = [f"weight_{j}" for j in range(len(weights))]
        layers.append({"name": layer.name, "class_name": type(layer).__name__,
                       "weights": [{"name": n, "shape": list(w.shape), "dtype": w.dtype.name}
                                   for n, w in zip(names, weights)]})
    return layers


def _metadata(model, kind):
    import fastrnn
    shape = model._input_shape
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": kind,
            "fastrnn_version": getattr(fastrnn, "__version__", "unknown"),
            "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "input_shape": None if shape is None else list(shape),
            "layers": _weights_manifest(model)}


def _weight_arrays(model):
    return {f"layer_{i}_weight_{j}": np.asarray(w)
            for i, layer in enumerate(model.layers) for j, w in enumerate(layer.weights)}


def _write_npz(zf, member, arrays):
    with zf.open(member, "w", force_zip64=True) as f:
        np.savez(f, **arrays)


def _write_archive(fileobj, members):
    """members: list of (name, bytes) or (name, dict of arrays) -> one zip archive."""
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, content in members:
            if isinstance(content, bytes):
                zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content,
                            compress_type=zipfile.ZIP_DEFLATED)
            else:
                _write_npz(zf, name, content)


def _fspath(filepath, what):
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"{what} expects a file path (str or os.PathLike), "
                        f"got {type(filepath).__name__}.") from None


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomically(path, overwrite, write):
    """Write ``path`` through ``write(fileobj)`` into a temporary file of the same
    directory, then rename it into place: the previous file survives any error."""
    if os.path.islink(path):
        path = os.path.realpath(path)           # replace the link's target, keep the link
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to {path!r}: it is a directory.")
    exists = os.path.exists(path)
    if exists and not overwrite:
        raise _FileExistsError(f"{path!r} already exists and overwrite=False.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path!r}: directory {directory!r} does not "
                                "exist.")
    base = os.path.basename(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"Cannot create a temporary file in {directory!r}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if exists:
            with contextlib.suppress(OSError):
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)              # atomic: fails if path appeared meanwhile
            except FileExistsError:
                raise _FileExistsError(f"{path!r} already exists and overwrite=False.") \
                    from None
            except OSError:                     # no hard links on this file system
                if os.path.exists(path):
                    raise _FileExistsError(f"{path!r} already exists and "
                                           "overwrite=False.") from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
        tmp = None
        _fsync_dir(directory)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def save_model(model, filepath, overwrite=True):
    """Save architecture, weights, compile settings and optimizer state to a
    ``.keras`` file (format: this module's docstring)."""
    path = _fspath(filepath, "save")
    if not path.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving: fastrnn saves models in "
                         "the '.keras' format (a zip archive, no pickle), so the file name "
                         f"must end in '.keras'. Received: filepath={path}")
    config = {"class_name": "Sequential", "config": sequential_config(model),
              "compile_config": _compile_config(model)}
    members = [(_METADATA, _to_json(_metadata(model, "model"), "model metadata")),
               (_CONFIG, _to_json(config, "model config")),
               (_WEIGHTS, _weight_arrays(model))]
    if config["compile_config"] is not None and model.optimizer is not None:
        members.append((_OPTIMIZER, model.optimizer.get_state()))
    _write_atomically(path, overwrite, lambda f: _write_archive(f, members))


def save_weights(model, filepath, overwrite=True):
    """Save every layer's weights to ``*.weights.h5`` (Keras 3's required name) or
    ``*.weights.npz``.  The content is fastrnn's format in both cases, a zip archive
    with ``metadata.json`` and ``weights.npz`` (see the module docstring), not HDF5:
    Keras cannot read it, and fastrnn cannot read Keras's HDF5 files."""
    path = _fspath(filepath, "save_weights")
    if not path.endswith((".weights.h5", ".weights.npz")):
        raise ValueError("The filename must end in '.weights.h5' (Keras 3's name; the "
                         "content is fastrnn's npz-in-zip format, not HDF5) or "
                         f"'.weights.npz'. Received: filepath={path}")
    members = [(_METADATA, _to_json(_metadata(model, "weights"), "weights metadata")),
               (_WEIGHTS, _weight_arrays(model))]
    _write_atomically(path, overwrite, lambda f: _write_archive(f, members))


# ==================================================================== reading
def _open_archive(path):
    if not os.path.exists(path):
        raise _FileNotFoundError(f"File not found: filepath={path}. Please ensure the file "
                                 "is an accessible '.keras' zip file.")
    if os.path.isdir(path):
        raise ValueError(f"Cannot load {path!r}: it is a directory, not a file.")
    try:
        return zipfile.ZipFile(path, "r")
    except PermissionError:
        raise
    except _READ_ERRORS as exc:
        raise ValueError(f"Cannot load {path!r}: not a fastrnn file (not a valid zip "
                         f"archive: {exc}); it may be truncated or corrupted.") from exc


def _check_members(zf, required, optional):
    infos = zf.infolist()
    names = [info.filename for info in infos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"the archive holds several members named {duplicates}.")
    if "model.weights.h5" in names or any(n.endswith(".h5") for n in names):
        raise ValueError("this is a Keras 3 file (HDF5 weights): fastrnn reads only the "
                         "files it writes itself (npz weights).")
    _require(names, required)
    unexpected = [n for n in names if n not in required and n not in optional]
    if unexpected:
        raise ValueError(f"unexpected member(s) {[n[:100] for n in unexpected[:10]]} in the "
                         "archive (the file is damaged or was not written by fastrnn).")
    for info in infos:
        if info.flag_bits & 0x1:
            raise ValueError(f"member {info.filename} is encrypted.")
    return {info.filename: info for info in infos}


def _require(names, required):
    missing = [n for n in required if n not in names]
    if missing:
        raise ValueError(f"the archive has no {', '.join(missing)} (members found: "
                         f"{', '.join(repr(n[:100]) for n in list(names)[:20]) or 'none'}).")


def _read_json(zf, info):
    if info.file_size > _MAX_JSON_BYTES:
        raise ValueError(f"{info.filename} is too large ({info.file_size} bytes; the limit "
                         f"is {_MAX_JSON_BYTES}).")
    with zf.open(info) as f:
        raw = f.read(_MAX_JSON_BYTES + 1)
    if len(raw) > _MAX_JSON_BYTES:
        raise ValueError(f"{info.filename} is too large.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{info.filename} is not valid JSON ({type(exc).__name__}: "
                         f"{str(exc)[:200]}).") from exc


def _check_metadata(metadata, kind):
    if not isinstance(metadata, dict):
        raise ValueError("metadata.json must hold a JSON object.")
    if "keras_version" in metadata and "format" not in metadata:
        raise ValueError("this is a Keras file, not a fastrnn file: fastrnn reads only the "
                         "files it writes itself.")
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"not a fastrnn file (metadata format "
                         f"{str(metadata.get('format'))[:100]!r}, expected {FORMAT_NAME!r}).")
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"invalid format_version {str(version)[:100]!r}.")
    if version > FORMAT_VERSION:
        import fastrnn
        raise ValueError(f"the file has format version {version}, written by a newer "
                         f"fastrnn ({str(metadata.get('fastrnn_version'))[:50]}); this "
                         f"fastrnn ({getattr(fastrnn, '__version__', '?')}) reads format "
                         f"versions up to {FORMAT_VERSION}. Upgrade fastrnn to load it.")
    file_kind = metadata.get("kind")
    if kind == "model" and file_kind != "model":
        raise ValueError(f"the file holds {str(file_kind)[:50]!r}, not a model"
                         + (": load it with model.load_weights()." if file_kind == "weights"
                            else "."))
    if file_kind not in ("model", "weights"):
        raise ValueError(f"unknown file kind {str(file_kind)[:50]!r}.")
    layers = metadata.get("layers")
    if not isinstance(layers, list):
        raise ValueError("metadata.json has no 'layers' weight manifest.")
    for i, entry in enumerate(layers):
        if (not isinstance(entry, dict) or not isinstance(entry.get("weights"), list)
                or not isinstance(entry.get("class_name"), str)):
            raise ValueError(f"metadata.json: invalid manifest entry for layer {i}.")
        for w in entry["weights"]:
            shape = w.get("shape") if isinstance(w, dict) else None
            if (not isinstance(shape, list)
                    or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                               for d in shape)):
                raise ValueError(f"metadata.json: invalid weight shape in the manifest of "
                                 f"layer {i}.")


def _check_manifest(model, manifest):
    """The file's layers must be the model's: count, classes, weight shapes."""
    if len(manifest) != len(model.layers):
        raise ValueError(f"Layer count mismatch: the model has {len(model.layers)} layers, "
                         f"the file has weights for {len(manifest)}.")
    for i, (layer, entry) in enumerate(zip(model.layers, manifest)):
        if entry["class_name"] != type(layer).__name__:
            raise ValueError(f"Layer {i} is a {type(layer).__name__} ({layer.name!r}) in the "
                             f"model but a {entry['class_name'][:100]} in the file.")
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(w["shape"]) for w in entry["weights"]]
        if want != got:
            raise ValueError(f"Layer {i} ({layer.name!r}, {type(layer).__name__}) has "
                             f"weights of shapes {want} in the model but {got} in the file.")


def _read_npy(zf, info, kinds, expected_shape, what):
    """Read one .npy member of ``zf`` after checking its header: never pickled data,
    a dtype of the given kinds, the expected shape, a size matching the member."""
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as exc:
            raise ValueError(f"{what} is not a valid .npy array ({exc}).") from exc
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise ValueError(f"{what} holds objects or records (dtype {dtype}); only plain "
                             "numbers are accepted (pickled data is never loaded).")
        if dtype.kind not in kinds or (dtype.kind == "f"
                                       and dtype.itemsize > _MAX_FLOAT_ITEMSIZE):
            raise ValueError(f"{what} has dtype {dtype}; expected "
                             + ("float16/32/64" if kinds == "f" else f"kind {kinds!r}") + ".")
        if expected_shape is not None and tuple(shape) != tuple(expected_shape):
            raise ValueError(f"{what} has shape {tuple(shape)}, expected "
                             f"{tuple(expected_shape)}.")
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != f.tell() + nbytes:
            raise ValueError(f"{what}: the member's size ({info.file_size} bytes) does not "
                             f"match its shape {tuple(shape)} and dtype {dtype}.")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"{what} is truncated.")
    arr = np.frombuffer(data, dtype=dtype)
    if fortran:
        return arr.reshape(shape[::-1]).T
    return arr.reshape(shape)


def _open_npz(zf, info, limit, what):
    if info.file_size > limit:
        raise ValueError(f"{what} is {info.file_size} bytes, more than the model's weights "
                         f"can take ({limit} bytes at most).")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} is larger than its declared size.")
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{what} is not a valid npz archive ({exc}).") from exc
    names = inner.namelist()
    if len(set(names)) != len(names):
        raise ValueError(f"{what} holds duplicate arrays.")
    for member in inner.infolist():
        if member.flag_bits & 0x1:
            raise ValueError(f"{what}: member {member.filename[:100]} is encrypted.")
        if not member.filename.endswith(".npy"):
            raise ValueError(f"{what}: unexpected member {member.filename[:100]!r} (only "
                             ".npy arrays are accepted).")
    return inner


def _read_weights(model, zf, info):
    """Every weight array of ``model`` from the weights.npz member, validated."""
    expected = {f"layer_{i}_weight_{j}": tuple(w.shape)
                for i, layer in enumerate(model.layers) for j, w in enumerate(layer.weights)}
    total = sum(math.prod(s) for s in expected.values())
    limit = total * _MAX_FLOAT_ITEMSIZE + len(expected) * _NPY_OVERHEAD + _NPZ_OVERHEAD
    inner = _open_npz(zf, info, limit, "weights.npz")
    with inner:
        found = {m.filename[:-4]: m for m in inner.infolist()}
        unexpected = sorted(set(found) - set(expected))
        missing = sorted(set(expected) - set(found), key=_weight_key_order)
        if unexpected:
            raise ValueError(f"weights.npz holds arrays the model does not have: "
                             f"{[u[:100] for u in unexpected[:10]]}.")
        if missing:
            raise ValueError(f"weights.npz lacks the arrays {missing[:10]}.")
        arrays = {key: _read_npy(inner, found[key], "f", shape, f"weights.npz[{key}]")
                  for key, shape in expected.items()}
    per_layer = []
    for i, layer in enumerate(model.layers):
        values = [arrays[f"layer_{i}_weight_{j}"] for j in range(len(layer.weights))]
        for j, v in enumerate(values):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"weights.npz[layer_{i}_weight_{j}] (layer {layer.name!r}) "
                                 "contains NaN or Inf.")
        per_layer.append(values)
    return per_layer


def _weight_key_order(key):
    m = _WEIGHT_KEY.fullmatch(key)
    return (int(m.group(1)), int(m.group(2))) if m else (math.inf, math.inf)


def _assign_weights(model, per_layer):
    """Copy checked arrays into the model (only after every check has passed)."""
    for layer, values in zip(model.layers, per_layer):
        if values:
            layer.set_weights(values)


def _read_optimizer_state(model, zf, info):
    n_vars = len(model.trainable_weights)
    total = sum(w.size for w in model.trainable_weights)
    limit = (total * _MAX_OPTIMIZER_SLOTS * _MAX_FLOAT_ITEMSIZE
             + (n_vars * _MAX_OPTIMIZER_SLOTS + 1) * _NPY_OVERHEAD + _NPZ_OVERHEAD)
    inner = _open_npz(zf, info, limit, "optimizer.npz")
    with inner:
        if len(inner.infolist()) > n_vars * _MAX_OPTIMIZER_SLOTS + 1:
            raise ValueError("optimizer.npz holds more arrays than the optimizer can have.")
        state = {}
        for member in inner.infolist():
            key = member.filename[:-4]
            kinds = "iu" if key == "iterations" else "f"
            state[key] = _read_npy(inner, member, kinds, None, f"optimizer.npz[{key[:100]}]")
    return state


def _restore_optimizer(model, state):
    optimizer = model.optimizer
    has_slots = any(key != "iterations" for key in state)
    try:
        if has_slots:
            optimizer.build(model.trainable_weights)   # set_state then checks the shapes
        optimizer.set_state(state)
    except ValueError as exc:
        raise ValueError(f"optimizer.npz does not fit the model's optimizer: {exc}") from exc


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model written by ``save_model`` / ``Sequential.save``.

    Returns a Sequential with the saved weights; when the file holds a compile
    config and ``compile`` is true it is compiled with the saved optimizer, whose
    state (slots and iterations) is restored, so ``fit`` continues exactly where it
    stopped.  ``custom_objects``: {name: class or function} for custom layers,
    losses, metrics or optimizers.  Any problem with the file raises ValueError.
    """
    path = _fspath(filepath, "load_model")
    if not path.endswith(".keras"):
        if path.endswith((".h5", ".hdf5")):
            raise ValueError(f"Cannot load {path!r}: fastrnn does not read HDF5 files; it "
                             "loads the '.keras' files it writes (model.save('m.keras')).")
        raise ValueError(f"File format not supported: filepath={path}. fastrnn loads "
                         "'.keras' files written by model.save().")
    custom_objects = _all_custom_objects(custom_objects)
    zf = _open_archive(path)
    try:
        with zf:
            members = _check_members(zf, (_METADATA,), (_CONFIG, _WEIGHTS, _OPTIMIZER))
            metadata = _read_json(zf, members[_METADATA])
            _check_metadata(metadata, "model")
            _require(members, (_CONFIG, _WEIGHTS))
            config = _read_json(zf, members[_CONFIG])
            if not isinstance(config, dict) or config.get("class_name") != "Sequential":
                raise ValueError("config.json must describe a Sequential model "
                                 "({'class_name': 'Sequential', 'config': ...}).")
            model = sequential_from_config(config.get("config"), custom_objects)
            _check_manifest(model, metadata["layers"])
            _assign_weights(model, _read_weights(model, zf, members[_WEIGHTS]))
            compile_config = config.get("compile_config")
            if compile and compile_config is not None:
                _compile_from_config(model, compile_config, custom_objects)
                _require(members, (_OPTIMIZER,))   # saved with every compiled model
                state = _read_optimizer_state(model, zf, members[_OPTIMIZER])
                _restore_optimizer(model, state)
    except PermissionError:
        raise
    except ValueError as exc:
        raise ValueError(f"Cannot load the model from {path!r}: {exc}") from exc
    except _READ_ERRORS as exc:
        raise ValueError(f"Cannot load the model from {path!r}: the file is corrupted or "
                         f"truncated ({type(exc).__name__}: {exc}).") from exc
    return model


def load_weights(model, filepath):
    """Load weights saved by ``save_weights`` (or ``save``) into ``model``.

    The file must come from a model of the same structure: same number of layers,
    same classes, same weight shapes.  Everything is checked before any weight
    changes, so on error the model is left as it was (an unbuilt model whose input
    shape the file records is built first).
    """
    path = _fspath(filepath, "load_weights")
    if not path.endswith((".keras", ".weights.h5", ".weights.npz")):
        raise ValueError("Invalid filepath extension for loading weights: the file name "
                         "must end in '.weights.h5', '.weights.npz' or '.keras'. "
                         f"Received: filepath={path}")
    zf = _open_archive(path)
    try:
        with zf:
            members = _check_members(zf, (_METADATA,), (_CONFIG, _WEIGHTS, _OPTIMIZER))
            metadata = _read_json(zf, members[_METADATA])
            _check_metadata(metadata, "weights")
            _require(members, (_WEIGHTS,))
            manifest = metadata["layers"]
            if len(manifest) != len(model.layers):
                raise ValueError(f"Layer count mismatch: the model has {len(model.layers)} "
                                 f"layers, the file has weights for {len(manifest)}.")
            if (model.layers and not model.built
                    and any(entry["weights"] for entry in manifest)):
                _build_for_weights(model, metadata.get("input_shape"))
            _check_manifest(model, manifest)
            per_layer = _read_weights(model, zf, members[_WEIGHTS])
    except PermissionError:
        raise
    except ValueError as exc:
        raise ValueError(f"Cannot load weights from {path!r}: {exc}") from exc
    except _READ_ERRORS as exc:
        raise ValueError(f"Cannot load weights from {path!r}: the file is corrupted or "
                         f"truncated ({type(exc).__name__}: {exc}).") from exc
    _assign_weights(model, per_layer)


def _build_for_weights(model, file_shape):
    from fastrnn.layers.base import _check_shape
    shape = model._input_shape
    if shape is None:
        if not isinstance(file_shape, list):
            raise ValueError("the model is not built and the file does not record an input "
                             "shape: build the model (or call it on data) first.")
        shape = _check_shape(file_shape)
    try:
        model.build(shape)
    except MemoryError as exc:
        raise ValueError(_too_large(next((l for l in model.layers if not l.built), None))) \
            from exc
