"""Footprint flags from circles and MOC files."""

import numpy as np
import pytest

from pzforge.combine.footprints import FootprintFlags, read_moc
from pzforge.errors import ConfigError, InputDataError


def test_circles_are_great_circle_distances():
    flags = FootprintFlags(
        [{"name": "in_c", "circles": [{"ra": 359.9, "dec": 0.0, "radius_deg": 0.5}]}]
    )
    ra = np.array([0.3, 0.45, 359.5, 180.0])
    dec = np.array([0.0, 0.0, 0.2, 0.0])
    # 0.3 deg east across RA 0 is 0.4 deg away: inside; 0.45 is 0.55 deg: outside
    assert flags.flags(ra, dec)["in_c"].tolist() == [True, False, True, False]


def test_moc_and_circles_combine(tmp_path):
    import astropy.units as u
    from astropy.coordinates import Latitude, Longitude
    from mocpy import MOC

    moc = MOC.from_cone(
        Longitude(53.1 * u.deg), Latitude(-27.8 * u.deg), radius=0.2 * u.deg, max_depth=12
    )
    path = tmp_path / "goods_s.fits"
    moc.save(str(path), format="fits")
    flags = FootprintFlags(
        [
            {"name": "in_goods", "moc": str(path)},
            {
                "name": "in_both",
                "moc": str(path),
                "circles": [{"ra": 10, "dec": 10, "radius_deg": 1}],
            },
        ]
    )
    out = flags.flags(np.array([53.1, 53.6, 10.0]), np.array([-27.8, -27.8, 10.2]))
    assert out["in_goods"].tolist() == [True, False, False]
    assert out["in_both"].tolist() == [True, False, True]
    assert flags.names == ["in_goods", "in_both"]
    assert flags.flags(np.array([]), np.array([]))["in_goods"].tolist() == []


def test_bad_footprints_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="give circles, a moc file, or both"):
        FootprintFlags([{"name": "x"}])
    (tmp_path / "bad.fits").write_text("not a moc")
    with pytest.raises(InputDataError, match="bad.fits: not a readable MOC"):
        read_moc(tmp_path / "bad.fits")
    with pytest.raises(InputDataError, match="file not found"):
        read_moc(tmp_path / "none.fits")
