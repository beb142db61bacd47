"""The key count of ``python -m bench.effort`` (issue #17's analyst-effort figure): what one queued image costs."""

from __future__ import annotations

from bench.effort import PICKER_TYPING, image_keys, picker_keys


def test_one_key_when_the_answer_is_in_the_top5_or_outside_the_tree(taxonomy) -> None:
    top5 = ["particle_metal", "particle_organic", "particle_glass", "fiber", "pi_residue"]
    assert image_keys(taxonomy, top5, "particle_metal", None) == 1  # Enter
    assert image_keys(taxonomy, top5, "pi_residue", "particle") == 1  # a digit
    assert image_keys(taxonomy, top5, None, None) == 1  # U


def test_the_picker_costs_c_the_way_to_the_leaf_and_enter_and_tab_outside_the_scope(taxonomy) -> None:
    leaves = list(taxonomy.leaves)
    a, b = leaves.index("particle_metal"), leaves.index("particle_organic")
    assert picker_keys(taxonomy, "particle_metal", "particle_organic", None) == 1 + abs(b - a) + 1
    far = leaves[-1]  # typing its name beats a long walk down the list
    assert picker_keys(taxonomy, "particle_metal", far, None) == 1 + PICKER_TYPING + 1
    assert picker_keys(taxonomy, "particle_metal", far, "particle") == 1 + 1 + PICKER_TYPING + 1  # Tab first
    top5 = ["particle_metal", "particle_glass", "particle_cluster", "fiber", "pi_residue"]
    assert image_keys(taxonomy, top5, "particle_organic", "particle") == picker_keys(
        taxonomy, "particle_metal", "particle_organic", "particle")


def test_a_scoped_top5_costs_one_key_inside_the_node_and_two_outside_it(taxonomy) -> None:
    from bench.effort import scoped_keys

    order = ["scratch", "particle_metal", "crack", "fiber", "dent", "edge_chipping", "rubbing_scratch",
             *[leaf for leaf in taxonomy.leaves if leaf not in {"scratch", "particle_metal", "crack", "fiber", "dent",
                                                                 "edge_chipping", "rubbing_scratch"}]]
    # mechanical's five best: scratch, crack, dent, edge chipping, rubbing scratch
    assert scoped_keys(taxonomy, order, "rubbing_scratch", "mechanical") == 1  # 7th overall, 5th in the node
    assert scoped_keys(taxonomy, order, "particle_metal", "mechanical") == 2  # A, then its digit
    assert scoped_keys(taxonomy, order, "rubbing_scratch", None) == image_keys(taxonomy, order[:5], "rubbing_scratch",
                                                                                None) > 2
    assert scoped_keys(taxonomy, order, None, "mechanical") == 1  # U


def test_a_group_costs_the_walk_to_each_exception_its_key_and_space_enter_for_the_rest(taxonomy) -> None:
    from bench.effort import grouped_keys

    top5 = ["scratch", "crack", "dent", "fiber", "pi_residue"]
    right = (top5, "scratch")
    # heading + 6 images on a 5-wide grid: only the model's calls: Space, Enter, one arrow on
    assert grouped_keys(taxonomy, "scratch", [right] * 6, columns=5) == 2 + 1
    # the 3rd image (grid place 3) is a crack: 3 arrows, its digit; back 3 (the cursor stays on place 3), Space,
    # Enter, one on
    assert grouped_keys(taxonomy, "scratch", [right, right, (top5, "crack"), right], columns=5) == 3 + 1 + 3 + 2 + 1
    # every image an exception: nothing left to accept; the 2nd moved up to where the 1st was
    assert grouped_keys(taxonomy, "scratch", [(top5, None), (top5, "dent")], columns=5) == (1 + 1) + (0 + 1) + 1
    # a row down costs one arrow, not five: place 6 is under place 1 (2 arrows from the heading, then its digit);
    # the image after it is gone, so the cursor falls back to place 5, under the heading (1 arrow back)
    far = [right] * 5 + [(top5, "crack")]
    assert grouped_keys(taxonomy, "scratch", far, columns=5) == (2 + 1) + (1 + 2) + 1
    # an answer outside the Top-5 takes the picker
    outside = next(leaf for leaf in taxonomy.leaves if leaf not in top5)
    assert grouped_keys(taxonomy, "scratch", [(top5, outside)], columns=5) == 1 + picker_keys(
        taxonomy, "scratch", outside, None) + 1
