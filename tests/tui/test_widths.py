"""The page keeps its width beside the side panes: a side pane shows only where the page keeps
80 columns beside it (the Mappings table's full layout), the Actions pane shows at 120x40 as in
the Layer2 guide, at the sizes people use the page never shrinks as the terminal widens, and at
each of them every page shows its fields whole, without scrolling sideways."""

from __future__ import annotations

from textual.containers import ScrollableContainer
from textual.widget import Widget
from textual.widgets import Button, DataTable

from l2tui.tui.app import PAGES
from l2tui.tui.layout import PAGE_FLOOR, width_class
from l2tui.tui.widgets.actions import ACTIONS
from l2tui.tui.widgets.mapping_editor import COMPACT_LABELS, MappingEditor
from tests.tui.conftest import screen_lines, until
from tests.tui.test_entities import _dataverse_columns

SIZES = ((80, 24), (100, 30), (120, 40), (132, 43), (160, 50), (200, 60))
# each side of each width where the side panes change
EDGES = ((99, 30), (100, 30), (119, 40), (120, 40), (159, 50), (160, 50))
EVERY_SIZE = tuple(dict.fromkeys(SIZES + EDGES))  # both, each size once (an app run each)
PANES = ("connections", "actions")


def _widths(app) -> tuple[int, dict[str, int]]:
    """The page's width and each side pane's (0: hidden)."""
    return app.query_one("#pages").region.width, \
        {pane: app.query_one(f"#{pane}-pane").region.width for pane in PANES}


async def _laid_out(make_app, size: tuple[int, int]) -> tuple[int, dict[str, int]]:
    """The page's and the side panes' widths at ``size``, once the app has laid them out."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.pause()
        return _widths(app)


async def test_the_page_is_never_narrower_on_a_wider_terminal(make_app, offline_demo_file) -> None:
    widths = [(await _laid_out(make_app, size))[0] for size in SIZES]
    assert widths == sorted(widths), dict(zip(SIZES, widths, strict=True))
    assert widths[0] == 80  # at 80 columns the page has the width to itself


async def test_wherever_a_side_pane_shows_the_page_keeps_80_columns(
        make_app, offline_demo_file) -> None:
    """Before, both panes showed from 100 columns: the page was 99 wide at 99x30, 52 at 100x30."""
    for size in EVERY_SIZE:
        page, panes = await _laid_out(make_app, size)
        if any(panes.values()):
            assert page >= PAGE_FLOOR, (size, page, panes)
        else:
            assert page == size[0], (size, page)


async def test_at_120x40_the_actions_pane_shows_beside_the_list(make_app, offline_demo_file) -> None:
    """As the Layer2 guide lays it out (and the README's 120x40 screenshots show it)."""
    page, panes = await _laid_out(make_app, (120, 40))
    assert panes["connections"] > 0 and panes["actions"] > 0, panes


async def test_resizing_the_running_app_changes_the_width_classes_live(
        make_app, offline_demo_file) -> None:
    """As a terminal window dragged wider and back: the page never narrows as it widens, and
    at every width the side panes are those of its class, the page 80 wide beside them."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZES[0]) as pilot:
        await until(pilot, lambda: app.current is not None)
        widths = []
        for width, height in SIZES + SIZES[-2::-1]:
            await pilot.resize_terminal(width, height)
            await until(pilot, lambda width=width: app.screen.size.width == width)
            await pilot.pause()
            assert app.screen.has_class(width_class(width)), (width, app.screen.classes)
            page, panes = _widths(app)
            assert page == width if not any(panes.values()) else page >= PAGE_FLOOR, \
                (width, page, panes)
            widths.append(page)
        assert widths[:len(SIZES)] == sorted(widths[:len(SIZES)]), widths
        assert widths[len(SIZES) - 1:] == sorted(widths[len(SIZES) - 1:], reverse=True), widths


async def test_f9_and_f10_show_or_hide_either_pane_at_every_width(
        make_app, offline_demo_file) -> None:
    """One app resized to each width (each pair of presses leaves the panes as the width shows
    them; the panes an app starts with at each width are checked by
    test_wherever_a_side_pane_shows_the_page_keeps_80_columns)."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=EVERY_SIZE[0]) as pilot:
        await until(pilot, lambda: app.current is not None)
        for width, height in EVERY_SIZE:
            await pilot.resize_terminal(width, height)
            await until(pilot, lambda width=width: app.screen.size.width == width)
            await pilot.pause()
            for key, pane in (("f9", "connections"), ("f10", "actions")):
                box = app.query_one(f"#{pane}-pane")
                shown = box.region.width > 0
                await pilot.press(key)
                await until(pilot, lambda box=box, shown=shown: (box.region.width > 0) != shown)
                await pilot.press(key)
                await until(pilot, lambda box=box, shown=shown: (box.region.width > 0) == shown)


async def test_f9_and_f10_restyle_the_pane_not_the_whole_app(make_app, offline_demo_file) -> None:
    """A pane shown or hidden by a class on the screen restyled every widget of the app at each
    press (~0.25 s of CPU; 852 restyles for these four presses, 202 widgets): the pane's own
    class restyles the pane's widgets (and those the focus moves between)."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.pause()
        restyled: list[object] = []
        update_nodes = app.stylesheet.update_nodes

        def counted(nodes, animate: bool = False) -> None:
            nodes = list(nodes)
            restyled.extend(nodes)
            update_nodes(nodes, animate=animate)

        app.stylesheet.update_nodes = counted
        for key, pane in (("f9", "connections"), ("f10", "actions")):
            box = app.query_one(f"#{pane}-pane")
            for shown in (False, True):
                await pilot.press(key)
                await until(pilot, lambda box=box, shown=shown: (box.region.width > 0) == shown)
        widgets = list(app.screen.walk_children(with_self=True))
        assert app.screen not in restyled and len(restyled) < len(widgets), \
            (len(restyled), len(widgets))


async def test_a_long_connection_title_ends_in_an_ellipsis_on_one_line(
        make_app, offline_demo_file) -> None:
    """The list is 20 columns wide at 100 to 159: a title longer than that is cut short with
    "…" rather than wrapped over rows the next title would take."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.pause()
        box = app.query_one("#connections")
        rows = [line.strip() for line in screen_lines(app, box)]
        assert rows[0].startswith("Demo: Dynamics") and rows[0].endswith("…"), rows[:3]
        assert rows[1] == "", rows[:3]


async def test_every_actions_button_shows_its_whole_label(make_app, offline_demo_file) -> None:
    """At each width the Actions pane shows (a long label wraps at a word, never cut)."""
    for size in ((80, 24), *SIZES[2:], (159, 50)):
        app = make_app(auto_describe=False)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda app=app: app.current is not None)
            if size[0] < 120:
                await pilot.press("f10")
            await until(pilot, lambda app=app: app.query_one("#actions-pane").region.width > 0)
            await pilot.pause()
            for button_id, label, _action in ACTIONS:
                button = app.query_one(f"#{button_id}", Button)
                shown = " ".join(" ".join(screen_lines(app, button)).split())
                assert label in shown, (size, label, shown)


def _cut_sideways(widget: Widget, page: Widget) -> str | None:
    """Why the field is not shown whole across (outside the page, or in a sideways scroll; a
    field's own text, as an Input's, may scroll: a table's columns may not)."""
    region, bounds = widget.region, page.region
    if region.width == 0 or region.x < bounds.x or region.right > bounds.right:
        return f"{widget!r} at {region} is outside the page at {bounds}"
    for box in (widget, *widget.ancestors):
        scrolls = isinstance(box, DataTable) or \
            (box is not widget and isinstance(box, ScrollableContainer))
        if scrolls and box.max_scroll_x > 0:
            return f"{box!r} scrolls sideways ({box.max_scroll_x}) around {widget!r}"
        if box is page:
            break
    return None


async def test_at_every_size_every_page_shows_its_fields_without_scrolling_sideways(
        make_app, offline_demo_file) -> None:
    for size in SIZES:
        app = make_app(auto_describe=False)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda app=app: app.current is not None)
            app.query_one(MappingEditor).set_columns(_dataverse_columns(True),
                                                     _dataverse_columns(False))
            for page in PAGES:
                app.action_page(page)
                pane = app.query_one(f"#{page}")
                await until(pilot, lambda pane=pane: pane.region.width > 0)
                await pilot.pause()
                fields = [w for w in app.screen.focus_chain
                          if pane in w.ancestors and w.parent is not pane]
                assert fields, (size, page)
                cut = [why for w in fields if (why := _cut_sideways(w, pane)) is not None]
                assert not cut, (size, page, cut)


async def test_at_every_size_the_mappings_table_shows_each_type_beside_its_name(
        make_app, offline_demo_file) -> None:
    """The compact layout (a type under its name) is for a page too narrow: at 100x30 the side
    panes left the page 52 columns, and the table took it."""
    for size in EVERY_SIZE:
        app = make_app(auto_describe=False)
        async with app.run_test(size=size) as pilot:
            app.action_page("mappings")
            editor = app.query_one(MappingEditor)
            editor.set_columns(_dataverse_columns(True), _dataverse_columns(False))
            table = editor.query_one("#pairs", DataTable)
            await until(pilot, lambda table=table: table.row_count == 6 and table.region.width > 0)
            await pilot.pause()
            assert table.layout_shown[0] != COMPACT_LABELS, size


async def test_a_resize_keeps_the_focused_field_in_view(make_app, offline_demo_file) -> None:
    """The Select Statement focused at the foot of a Data Entity page at 80x24: widened to
    120x40 the fields took their borders and moved down, the page kept its offset and the
    field slid out of sight. The page scrolls it back into view."""
    from textual.widgets import TextArea

    app = make_app(auto_describe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.press("alt+2")
        form = app.query_one("#entity1-form")
        area = app.query_one("#entity1-form #select", TextArea)
        area.focus()
        await until(pilot, lambda: form.region.contains_region(area.region))
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: app.screen.size.width == 120 and form.region.width > 0)
        await until(pilot, lambda: form.region.contains_region(area.region), timeout=5)
        assert app.focused is area
