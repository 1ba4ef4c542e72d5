"""Subscripts of a Vensim model as PySD's abstract model gives them.

Ranges resolved to their elements (copies and subranges included), the dims of a
variable, and per equation component the index into the variable's array its
subscripts select, with the mask of its :EXCEPT: elements. Used by
:mod:`.model_info` and by the ensemble compiler.
"""

from __future__ import annotations

import numpy as np

from czsim.errors import ModelError


def range_table(section, path) -> dict[str, tuple[str, ...]]:
    """Range name -> elements, resolving ranges defined as copies of other ranges."""
    raw = {r.name: r.subscripts for r in section.subscripts}
    out: dict[str, tuple[str, ...]] = {}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> tuple[str, ...]:
        if name in out:
            return out[name]
        subs = raw[name]
        if isinstance(subs, str):  # "A <-> B": A is a copy of B
            if subs in seen or subs not in raw:
                raise ModelError(f"cannot resolve subscript range {name}", file=path)
            elems = resolve(subs, (*seen, name))
        elif isinstance(subs, (list, tuple)):
            elems = []
            for s in subs:  # a subrange may be written in terms of other ranges
                elems.extend(resolve(s, (*seen, name)) if s in raw and s != name else [s])
            elems = tuple(elems)
        else:
            raise ModelError(f"unsupported subscript range definition for {name}", file=path)
        out[name] = tuple(elems)
        return out[name]

    for name in raw:
        resolve(name)
    return out


def element_dims(element, ranges: dict[str, tuple[str, ...]], path) -> tuple[str, ...]:
    """Return the dims of a (possibly multi-component) element.

    Per position: the smallest declared range containing every element any component
    defines there.
    """
    comps = element.components
    n = len(comps[0].subscripts[0])
    lower_ranges = {r.lower(): r for r in ranges}
    dims = []
    for pos in range(n):
        covered: set[str] = set()
        for c in comps:
            subs = c.subscripts[0]
            if len(subs) != n:
                raise ModelError(
                    "components have different numbers of subscripts", file=path, key=element.name
                )
            s = subs[pos]
            r = lower_ranges.get(s.lower())
            covered.update(e.lower() for e in (ranges[r] if r else (s,)))
        cands = [r for r, el in ranges.items() if covered <= {e.lower() for e in el}]
        if not cands:
            raise ModelError(
                f"no subscript range contains {sorted(covered)}", file=path, key=element.name
            )
        dims.append(min(cands, key=lambda r: len(ranges[r])))  # min() keeps file order on ties
    return tuple(dims)


def component_index(subs, dims, ranges, path, name) -> tuple:
    """Return an index into the variable's dims per position of a component's subscripts.

    Each is an int (single element), a slice (the whole range) or a list of ints (a
    subrange).
    """
    lower_ranges = {r.lower(): r for r in ranges}
    idx = []
    for s, d in zip(subs, dims, strict=True):
        r = lower_ranges.get(s.lower())
        full = [e.lower() for e in ranges[d]]
        if r == d:
            idx.append(slice(None))
        elif r is not None:
            try:
                idx.append([full.index(e.lower()) for e in ranges[r]])
            except ValueError:
                raise ModelError(
                    f"range {r} is not a subrange of {d}", file=path, key=name
                ) from None
        elif s.lower() in full:
            idx.append(full.index(s.lower()))
        else:
            raise ModelError(f"'{s}' is not an element of {d}", file=path, key=name)
    return tuple(idx)


def except_mask(comp, idx, dims, ranges, path, name) -> np.ndarray | None:
    """Return where a component with ``:EXCEPT:`` applies; ``None`` without ``:EXCEPT:``.

    A boolean array shaped like the elements its subscripts select (``default[idx]``), True
    where the component applies.
    """
    if not comp.subscripts[1]:
        return None
    sizes = [len(ranges[d]) for d in dims]
    keep = np.zeros(sizes, dtype=bool)
    keep[_mesh(idx, sizes)] = True
    for group in comp.subscripts[1]:
        if len(group) != len(dims):
            raise ModelError(
                f":EXCEPT: [{', '.join(group)}] has {len(group)} subscripts, expected {len(dims)}",
                file=path,
                key=name,
            )
        keep[_mesh(component_index(group, dims, ranges, path, name), sizes)] = False
    region = keep[_mesh(idx, sizes)]
    # single elements drop their axis, as in default[idx]
    return region.reshape(
        [n for n, i in zip(region.shape, idx, strict=True) if not isinstance(i, int)]
    )


def _mesh(idx, sizes) -> tuple:
    """``np.ix_`` of a component index (ints, slices of the whole range, lists)."""
    return np.ix_(
        *(
            [i] if isinstance(i, int) else list(range(n)) if isinstance(i, slice) else i
            for i, n in zip(idx, sizes, strict=True)
        )
    )
