"""The picker opened on a re-judged image whose subgroup the model determined: that subtree first, Tab for all."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from app.ui.picker import ID_ROLE, LEAF_ROLE, TaxonomyPicker


def test_the_picker_shows_the_determined_subtree_first_and_tab_widens(qtbot, taxonomy) -> None:
    dlg = TaxonomyPicker(taxonomy, "en", current="particle_organic", scope="particle")
    qtbot.addWidget(dlg)
    particles = [leaf for leaf in taxonomy.leaves if "particle" in taxonomy.path(leaf)]
    assert dlg.visible_leaves() == particles and "particle_organic" in particles
    assert dlg.scope_label.isVisibleTo(dlg) and "Tab: all types" in dlg.scope_label.text()
    assert dlg.tree.currentIndex().data() == taxonomy.name("particle_organic", "en")
    qtbot.keyClick(dlg.search, Qt.Key.Key_Tab)
    assert sorted(dlg.visible_leaves()) == sorted(taxonomy.leaves)
    assert not dlg.scope_label.isVisibleTo(dlg)
    assert dlg.tree.currentIndex().data() == taxonomy.name("particle_organic", "en")  # the selection stays


def test_typing_filters_inside_the_scope_and_a_leaf_scope_is_ignored(qtbot, taxonomy) -> None:
    dlg = TaxonomyPicker(taxonomy, "en", scope="particle")
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.search, "metal")
    assert dlg.visible_leaves() == ["particle_metal"]
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen == "particle_metal"
    whole = TaxonomyPicker(taxonomy, "en", scope="particle_metal")  # a leaf is no scope
    qtbot.addWidget(whole)
    assert whole.scope is None and sorted(whole.visible_leaves()) == sorted(taxonomy.leaves)


def test_the_panel_marks_the_determined_node(qtbot) -> None:
    from app.services.batch_presenter import PanelData
    from app.ui.prediction_panel import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    data = PanelData(file_name="a.png", state="rejudge", leaf="particle_metal",
                     path=("foreign_matter", "particle", "particle_metal"),
                     path_names=("Foreign matter", "Particle", "Metal particle"), path_scores=(0.99, 0.9, 0.6),
                     determined=1)
    panel.show_data(data)
    assert panel.determined.isVisibleTo(panel) and "Particle is determined" in panel.determined.text()
    assert panel.path_rows[1][0].text().endswith("Particle ✓") and "✓" not in panel.path_rows[2][0].text()
    panel.show_data(PanelData(file_name="a.png", state="rejudge", leaf="particle_metal", path=data.path,
                              path_names=data.path_names, path_scores=data.path_scores))
    assert not panel.determined.isVisibleTo(panel) and "✓" not in panel.path_rows[1][0].text()


def test_the_top5_header_says_whether_it_is_scoped(qtbot) -> None:
    from app.services.batch_presenter import PanelData, TopEntry
    from app.ui.prediction_panel import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    base = dict(file_name="a.png", state="rejudge", leaf="fiber", path=("foreign_matter", "particle", "fiber"),
                path_names=("Foreign matter", "Particle", "Fiber"), path_scores=(0.99, 0.9, 0.6),
                top5=(TopEntry("fiber", "Fiber", "Foreign matter › Particle", 0.6),) * 5)
    panel.show_data(PanelData(**base, top_scope="Foreign matter"))
    assert panel.top_header.text() == "Top-5 in Foreign matter (press 1–5) · A: all types"
    panel.show_data(PanelData(**base, top_widened="Foreign matter"))
    assert panel.top_header.text() == "Top-5 (press 1–5) · A: only Foreign matter"
    panel.show_data(PanelData(**base))
    assert panel.top_header.text() == "Top-5 (press 1–5)"
    # a determined subgroup of four types lists four: the header offers their keys only (5 did nothing)
    panel.show_data(PanelData(**{**base, "top5": base["top5"][:4]}, top_scope="Process anomalies"))
    assert panel.top_header.text() == "The 4 types in Process anomalies (press 1–4) · A: all types"  # not "Top-5"


def test_the_150_leaf_tree_filters_by_english_chinese_and_id_and_scopes(qtbot, tree150) -> None:
    tree = tree150
    dlg = TaxonomyPicker(tree, "zh_TW")
    qtbot.addWidget(dlg)
    assert sorted(dlg.visible_leaves()) == sorted(tree.leaves)
    dlg.search.setText("偏光板 刮傷")  # every word, in any order, in the type's names or its subgroup's
    assert dlg.visible_leaves() == ["mechanical_pol_scratch", "pol_scratch_protect"]  # (under 偏光板)
    assert dlg.tree.currentIndex().data(ID_ROLE) == "mechanical_pol_scratch"  # its own name holds both
    dlg.search.setText("particle")  # the Particles subgroup's types too (its fibres), after those named so
    shown = dlg.visible_leaves()
    assert "fiber_cotton" in shown and "pol_particle" in shown and "particle_oxide" in shown
    assert "particle" in dlg.tree.currentIndex().data(ID_ROLE)
    dlg.search.setText("thin_film")  # an id only a node above holds (its scope tag) finds nothing
    assert dlg.visible_leaves() == []
    dlg.search.setText("short_")
    assert dlg.visible_leaves() == ["short_gate_data", "short_data_data", "short_residue_bridge", "short_esd"]
    scoped = TaxonomyPicker(tree, "en", scope="handling")
    qtbot.addWidget(scoped)
    assert scoped.visible_leaves() == list(tree.children("handling"))
    qtbot.keyClicks(scoped.search, "dent")
    assert scoped.visible_leaves() == ["handling_dent_suction"]
    qtbot.keyClick(scoped.search, Qt.Key.Key_Tab)
    assert "dent_point" in scoped.visible_leaves() and "handling_dent_suction" in scoped.visible_leaves()


def test_the_150_leaf_picker_finds_types_as_analysts_type_them(qtbot, tree150) -> None:
    """A 150-leaf walk-through: a subgroup's name found no type (an empty heading), "sin" selected "Resin particle"
    over "SiNx peeling", "PI剝片" (no space) and "aluminum" (the tree says "Aluminium") found nothing, a typo said
    only "No type matches", and nothing said how many types a word matched."""
    tree = tree150
    dlg = TaxonomyPicker(tree, "en")
    qtbot.addWidget(dlg)

    def headings_without_leaves() -> list[str]:
        empty: list[str] = []

        def walk(parent) -> bool:  # whether a leaf is shown under parent
            found = False
            for r in range(dlg.proxy.rowCount(parent)):
                idx = dlg.proxy.index(r, 0, parent)
                below = walk(idx)
                if not idx.data(LEAF_ROLE) and not below:
                    empty.append(idx.data(ID_ROLE))
                found = found or bool(idx.data(LEAF_ROLE)) or below
            return found

        walk(QModelIndex())
        return empty

    dlg.search.setText("organic particles")  # the subgroup's name: its types (and an organic particle cluster)
    shown = dlg.visible_leaves()
    assert set(tree.children("particle_organic")) <= set(shown) and len(shown) < 10
    assert dlg.hint.text().startswith(f"{len(shown)} types match")
    for typed in ("scratch", "cu", "rubbing", "異物"):
        dlg.search.setText(typed)
        assert dlg.visible_leaves() and headings_without_leaves() == [], typed
    dlg.search.setText("異物")  # the Foreign-matter group: its particles too, not only types named 異物
    assert "organic_resin" in dlg.visible_leaves()
    for typed, best in (("sin", "film_peeling_sin"), ("PI剝片", "organic_pi_flake"), ("pi 剝片", "organic_pi_flake"),
                        ("aluminum", "metal_al"), ("aluminium particle", "metal_al")):
        dlg.search.setText(typed)
        assert dlg.tree.currentIndex().data(ID_ROLE) == best, (typed, dlg.visible_leaves()[:5])
    dlg.search.setText("aluminum partcle")  # a typo in another spelling: the nearest names are said
    assert dlg.visible_leaves() == [] and dlg.hint.text().startswith(
        "No type matches · ↓: the closest, Aluminium particle")
    dlg.search.setText("zzzz")
    assert dlg.hint.text() == "No type matches · a kind outside the tree: Esc, then U"  # (腐蝕: none such)
    qtbot.keyClick(dlg.search, Qt.Key.Key_Down)  # nothing close: Down does nothing
    assert dlg.search.text() == "zzzz"
    dlg.search.setText("scrach")  # a typo: the nearest names are said
    assert dlg.visible_leaves() == [] and dlg.hint.text().startswith("No type matches · ↓: the closest, ")
    closest = dlg.hint.text().split("the closest, ")[1].split(", ")[0]
    assert "scratch" in closest.lower(), dlg.hint.text()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Down)  # Down takes the closest into the search; Enter chooses it
    assert dlg.search.text() == closest and dlg.visible_leaves()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen is not None and tree.name(dlg.chosen, "en") == closest


def test_a_tall_tree_opens_with_the_first_leafs_group_in_sight(qtbot, tree150) -> None:
    dlg = TaxonomyPicker(tree150, "en")
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    top = dlg.proxy.index(0, 0)  # the first group, above the first leaf
    assert dlg.tree.visualRect(top).intersects(dlg.tree.viewport().rect())
    assert not dlg.tree.currentIndex().isValid()  # nothing preselected (test below)
    qtbot.keyClick(dlg.search, Qt.Key.Key_Down)  # the first arrow selects the first leaf
    assert dlg.tree.currentIndex().data(ID_ROLE) == dlg.visible_leaves()[0]
    assert dlg.tree.visualRect(dlg.tree.currentIndex()).intersects(dlg.tree.viewport().rect())

    first = dlg.tree.verticalScrollBar().value()
    for _ in range(12):  # arrows move the selection; the list scrolls only when it reaches the edge
        qtbot.keyClick(dlg.search, Qt.Key.Key_Down)
    assert dlg.tree.verticalScrollBar().value() == first


def test_a_name_with_a_line_break_is_found_by_its_every_word(qtbot) -> None:
    from models.taxonomy import Taxonomy

    def node(i: str, en: str, zh: str, children: list | None = None) -> dict:
        return {"id": i, "name": {"en": en, "zh_TW": zh}} | ({"children": children} if children else {})

    tree = Taxonomy.from_dict(node("t", "t", "t", [node("grp", "Group", "群組", [
        node("two_lines", "Line one\nline two\n", "第一行\n第二行"), node("other", "Other", "其他")])]))  # fmt: skip
    dlg = TaxonomyPicker(tree, "en", scope="grp")
    qtbot.addWidget(dlg)
    assert dlg.visible_leaves() == ["two_lines", "other"]  # the scope's tag after the line breaks still matches
    for text in ("two", "第二行", "two_lines", "one two"):
        dlg.search.setText(text)
        assert dlg.visible_leaves() == ["two_lines"], text


def test_without_a_current_type_nothing_is_preselected_and_enter_says_how_to_pick(qtbot, taxonomy) -> None:
    """A blind spot check (the model's call hidden) or Shift+C opened the picker with the tree's first leaf
    selected, so Enter, Enter saved "Metal particle" on a crack (seen in a day's walk-through): the purity monitor
    then counts an answer nobody gave. Now nothing is selected until the analyst types or moves, and Enter says so."""
    dlg = TaxonomyPicker(taxonomy, "en")
    qtbot.addWidget(dlg)
    assert not dlg.tree.currentIndex().isValid()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen is None and dlg.result() == 0 and "Pick a type first" in dlg.hint.text()
    qtbot.keyClicks(dlg.search, "c")  # typed and rubbed out (Backspace, or the ✕): nothing selected again
    qtbot.keyClick(dlg.search, Qt.Key.Key_Backspace)
    assert not dlg.tree.currentIndex().isValid()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen is None
    assert "Pick a type first" in dlg.hint.text()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Down)
    assert "Pick a type first" not in dlg.hint.text()  # a type is picked now: the warning went (it stayed)
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen == dlg.visible_leaves()[0]
    given = TaxonomyPicker(taxonomy, "en", current="crack")  # a type given (C): clearing comes back to it
    qtbot.addWidget(given)
    qtbot.keyClicks(given.search, "fib")
    given.search.clear()
    assert given.tree.currentIndex().data(ID_ROLE) == "crack"
    typed = TaxonomyPicker(taxonomy, "en")
    qtbot.addWidget(typed)
    qtbot.keyClicks(typed.search, "organic")  # typing selects the first match, as before
    qtbot.keyClick(typed.search, Qt.Key.Key_Return)
    assert typed.chosen == "particle_organic"


def test_a_search_that_finds_nothing_in_the_determined_subtree_points_to_tab(qtbot, taxonomy) -> None:
    """In a picker narrowed to the determined subgroup, "scratch" showed an empty tree and Enter did nothing, with no
    word that Tab searches the whole tree; after Tab, the one match was not even selected."""
    dlg = TaxonomyPicker(taxonomy, "en", scope="particle")
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.search, "scratch")
    assert dlg.visible_leaves() == [] and "Tab: all types" in dlg.hint.text()
    assert taxonomy.name("particle", "en") in dlg.hint.text()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Tab)
    scratches = dlg.visible_leaves()
    assert scratches and all("scratch" in leaf for leaf in scratches)
    assert dlg.tree.currentIndex().data(ID_ROLE) == scratches[0] and "Tab" not in dlg.hint.text()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen == scratches[0]


def test_a_typo_in_the_determined_subtree_names_the_closest_and_down_takes_it(qtbot, taxonomy) -> None:
    """Seen in zh_TW: "scrach" in a picker narrowed to a group said only "no type of the group matches · Tab"; the
    closest names came after Tab. They are said at once, and Down widens the picker and takes the first."""
    dlg = TaxonomyPicker(taxonomy, "en", scope="particle")
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.search, "scrach")
    hint = dlg.hint.text()
    assert dlg.visible_leaves() == [] and hint.startswith(f"No type of {taxonomy.name('particle', 'en')} matches · "
                                                          "↓: the closest, ") and hint.endswith(" · Tab: all types")
    closest = hint.split("the closest, ")[1].split(" · ")[0].split(", ")[0]
    assert "scratch" in closest.lower(), hint
    qtbot.keyClick(dlg.search, Qt.Key.Key_Down)
    assert dlg.scope is None and dlg.search.text() == closest and dlg.visible_leaves()
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen is not None and taxonomy.name(dlg.chosen, "en") == closest
    # a type outside the subtree typed whole, then Enter: it did nothing; now it widens to the whole tree's matches,
    # the best selected, and the next Enter chooses it (scale walk-through)
    dlg = TaxonomyPicker(taxonomy, "en", scope="particle")
    qtbot.addWidget(dlg)
    qtbot.keyClicks(dlg.search, "scratch")
    assert dlg.visible_leaves() == []
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    hint = dlg.hint.text()
    assert dlg.scope is None and dlg.chosen is None and ("types match" in hint or "1 type matches" in hint), hint
    qtbot.keyClick(dlg.search, Qt.Key.Key_Return)
    assert dlg.chosen is not None and "scratch" in taxonomy.name(dlg.chosen, "en").lower()


def test_the_panel_names_the_keys_the_analyst_bound(qtbot) -> None:
    """Note moved to M in the shortcuts dialog: M worked and the help said M, but the button still said "Note (N)"
    and the blind hint named a "P" no action has. Buttons, the Top-5 header and the blind hint follow the keymap."""
    from app.services.batch_presenter import PanelData, TopEntry
    from app.ui import keymap
    from app.ui.prediction_panel import PredictionPanel

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    assert [b.text() for b in (panel.accept_btn, panel.pick_btn, panel.unknown_btn, panel.note_btn)] == [
        "Accept  (Enter)", "Other type…  (C)", "Unknown / new type  (U)", "Note  (N)"]
    keys = keymap.defaults() | {"note": ("M",), "unknown": (), "top1": ("Q",), "top_scope": ("Shift+A",)}
    panel.set_keys(keys)
    assert panel.note_btn.text() == "Note  (M)" and panel.unknown_btn.text() == "Unknown / new type"
    base = dict(file_name="a.png", state="rejudge", leaf="fiber", path=("foreign_matter", "particle", "fiber"),
                path_names=("Foreign matter", "Particle", "Fiber"), path_scores=(0.99, 0.9, 0.6),
                top5=(TopEntry("fiber", "Fiber", "Foreign matter › Particle", 0.6),) * 5)
    panel.show_data(PanelData(**base, top_scope="Foreign matter"))
    assert panel.top_header.text() == "Top-5 in Foreign matter (press Q/2/3/4/5) · Shift+A: all types"
    panel.set_keys(keys | {"top_scope": ("Z",)})  # changed with this image on screen: its own header, new key
    assert panel.top_header.text() == "Top-5 in Foreign matter (press Q/2/3/4/5) · Z: all types"
    panel.show_data(PanelData(file_name="b.png", state="rejudge", blind=True))
    assert panel.accept_btn.text() == "Pick the type  (Enter)"
    # (the keys one piece: a word joiner each side of the slash, where a wrapped line broke them)
    assert "pick the type (Enter\u2060/\u2060C)." in panel.determined.text() and " P)" not in panel.determined.text()
    assert keymap.shown_keys(keymap.defaults(), *(f"top{k}" for k in range(1, 6))) == "1–5"
    # the rest of the window that names a key: the Top-5 rows' "?", the heatmap's caption, the start page
    from app.ui.explain import attention_caption
    from app.ui.welcome import WelcomePage

    panel.set_keys(keys | {"why": ("Y",)})
    assert "(Y steps through the Top-5)" in panel.top_rows[0][4].toolTip()
    assert attention_caption("cbam", "Y") == "Attention (CBAM) · Y: why this type?"
    page = WelcomePage()
    qtbot.addWidget(page)
    assert page.text.text().endswith("you accept with Enter or correct with 1–5 or C.")
    page.set_keys(keys | {"picker": ("P",)})
    assert page.text.text().endswith("you accept with Enter or correct with Q/2/3/4/5 or P.")
    # the start page's folder button and the toolbar's queue, help and opacity slider name keys too
    from app.ui.toolbar import MainToolBar

    assert page.folder_btn.text() == "Open a folder…  (Ctrl+O)"
    bar = MainToolBar("en")
    qtbot.addWidget(bar)
    assert (bar.act_queue.text(), bar.act_help.text()) == ("Re-judge queue (Q)", "Shortcuts (F1)")
    moved = keys | {"open_folder": ("Ctrl+Shift+O",), "queue": ("J",), "help": (), "opacity_down": (",",)}
    page.set_keys(moved)
    bar.set_keys(moved)
    assert page.folder_btn.text() == "Open a folder…  (Ctrl+Shift+O)"
    assert (bar.act_queue.text(), bar.act_help.text()) == ("Re-judge queue (J)", "Shortcuts")
    assert bar.opacity.toolTip() == "Heatmap opacity (,/])"


def test_the_held_key_that_opened_the_picker_types_nothing(qtbot, taxonomy) -> None:
    """C held opened the picker once, and its repeats typed "cccccccc" into its search: "No type matches"
    (verification walk-through). A key pressed in it types as ever, repeats included."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    dlg = TaxonomyPicker(taxonomy, "en")
    qtbot.addWidget(dlg)

    def key(k: Qt.Key, text: str, repeat: bool) -> None:
        QApplication.sendEvent(dlg.search, QKeyEvent(QEvent.Type.KeyPress, k, Qt.KeyboardModifier.NoModifier, text,
                                                     repeat))

    for _ in range(5):
        key(Qt.Key.Key_C, "c", True)
    assert dlg.search.text() == "" and sorted(dlg.visible_leaves()) == sorted(taxonomy.leaves)
    key(Qt.Key.Key_M, "m", False)
    key(Qt.Key.Key_E, "e", True)
    assert dlg.search.text() == "me"
