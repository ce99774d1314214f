"""course_config.py is the one source of truth, read once into a typed object."""
import subprocess
import sys

import pytest

from autograder.config import ConfigError, GradingSettings, load
from tests.conftest import REPO


def test_repository_config_loads_with_nbgrader_layout():
    """Does the course config give nbgrader's CourseDirectory layout and a gradebook inside the course?"""
    cfg = load(REPO)
    assert cfg.nbgrader.source_directory == "assignments"
    assert cfg.nbgrader.release_directory == "release"
    assert cfg.nbgrader.solution_directory == "solutions"
    assert cfg.nbgrader.submitted_directory == "submitted"
    assert cfg.db_url == f"sqlite:///{REPO / 'gradebook.db'}"
    assert isinstance(cfg.grading, GradingSettings)
    assert "day41_transformer" in cfg.assignments()


def test_unknown_key_is_an_error_that_names_it(tmp_path):
    """Is a misspelt setting rejected with its name, instead of silently ignored?"""
    (tmp_path / "course_config.py").write_text('COURSE_ID = "x"\nGRADING = {"speed_factr": 2.0}\n')
    with pytest.raises(ConfigError, match="speed_factr"):
        load(tmp_path)


def test_unknown_section_and_wrong_type_are_errors(tmp_path):
    """Are an unknown top-level setting and a value of the wrong type both reported by name?"""
    (tmp_path / "course_config.py").write_text('COURSE_ID = "x"\nGRADNG = {}\n')
    with pytest.raises(ConfigError, match="GRADNG"):
        load(tmp_path)
    (tmp_path / "course_config.py").write_text('COURSE_ID = "x"\nGRADING = {"lanes": "two"}\n')
    with pytest.raises(ConfigError, match="lanes"):
        load(tmp_path)


def test_nbgrader_reads_the_same_settings():
    """Does nbgrader, through nbgrader_config.py, see the course config's directories and course id?"""
    code = ("from traitlets.config.loader import PyFileConfigLoader; "
            f"c = PyFileConfigLoader('nbgrader_config.py', path={str(REPO)!r}).load_config(); "
            "print(c.CourseDirectory.source_directory, c.CourseDirectory.release_directory, "
            "c.CourseDirectory.solution_directory, c.CourseDirectory.course_id, 'hidden' in c.CourseDirectory.ignore)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    cfg = load(REPO)
    assert out.split() == ["assignments", "release", "solutions", cfg.course_id, "True"]


@pytest.mark.parametrize("setting, named", [('{"treshold": 0.5}', "treshold"), ('{"threshold": 1.5}', "threshold"),
                                            ('{"top": 0}', "top"), ('{"archive": 3}', "archive")])
def test_similarity_settings_are_checked_like_the_others(tmp_path, setting, named):
    """Is SIMILARITY read like every section (a misspelt key, a share outside 0..1, a count below 1
    or a wrong type is an error naming it), and is the check off in make grade unless asked for?"""
    cfg = load(REPO)
    assert cfg.grading.similarity is False and cfg.similarity.archive == ""
    (tmp_path / "course_config.py").write_text(f'COURSE_ID = "x"\nSIMILARITY = {setting}\n')
    with pytest.raises(ConfigError, match=named):
        load(tmp_path)
