"""Column maps of the real spec-z samples in ../shared/data/specz (see its README)."""

from __future__ import annotations

SPECZ = {
    "2dfgrs_final_release": (
        {"id": "name", "ra": "ra_j2000_deg", "dec": "dec_j2000_deg", "z": "z", "z_flag": "quality"},
        "survey_name",
    ),
    "2dflens_final_release": (
        {"id": "unique_id", "ra": "RA", "dec": "Dec", "z": "z", "z_flag": "qual"},
        "survey_name",
    ),
    "2mrs_v240": (
        {"id": "TMID", "ra": "RA", "dec": "DEC", "z": "redshift", "z_err": "redshift_err"},
        "survey_name",
    ),
    "3dhst_v4.1.5": ({"id": "phot_id", "ra": "ra", "dec": "dec", "z": "z_best"}, "survey_name"),
    "6dfgs_dr3": (
        {"id": "SPECID", "ra": "RA_deg", "dec": "DEC_deg", "z": "Z", "z_flag": "QUALITY"},
        "survey_name",
    ),
    "desi_dr1_in_lsst_dp1_fields": (
        {
            "id": "TARGETID",
            "ra": "TARGET_RA",
            "dec": "TARGET_DEC",
            "z": "Z",
            "z_err": "ZERR",
            "z_flag": "ZWARN",
        },
        "survey_name",
    ),
    "jades_dr3": (
        {
            "id": "unique_id",
            "ra": "RA_TARG",
            "dec": "Dec_TARG",
            "z": "z_Spec",
            "z_flag": "z_Spec_flag",
        },
        "survey_name",
    ),
    "mosdef_final_release": (
        {"id": "ID", "ra": "RA", "dec": "DEC", "z": "Z_MOSFIRE", "z_flag": "Z_QUAL"},
        "survey_name",
    ),
    "ozdes_dr2": (
        {"id": "OzDES_ID", "ra": "Alpha_J2000", "dec": "Delta_J2000", "z": "z", "z_flag": "qop"},
        "survey_name",
    ),
    "primus_dr1": (
        {"id": "OBJNAME", "ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "ZQUALITY"},
        "survey_name",
    ),
    "vvds_final_release": (
        {"id": "NUM", "ra": "ALPHA", "dec": "DELTA", "z": "Z", "z_flag": "ZFLAGS"},
        "survey_name",
    ),
    "candels_clean": (
        {"ra": "RA", "dec": "DEC", "z": "redshift", "z_flag": "quality", "type": "type"},
        "source",
    ),
}
