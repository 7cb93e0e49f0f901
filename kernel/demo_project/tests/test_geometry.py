from inventory.geometry import distance, route_length


def test_distance_is_euclidean():
    assert distance((0, 0), (3, 4)) == 5


def test_route_length_sums_legs():
    assert route_length([(0, 0), (3, 4), (3, 0)]) == 9


def test_empty_route_has_no_length():
    assert route_length([]) == 0
