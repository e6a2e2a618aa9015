"""db init --app-user: a least-privilege user that can use rows but not change the schema."""
from __future__ import annotations

import uuid

import pymysql
import pytest

from relaystore.mysql.schema import init_database
from tests.conftest import base_settings


def test_app_user_gets_row_access_only(mysql_database):
    user = f"rs_app_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    admin = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    try:
        report = init_database(base_settings(), database=mysql_database, app_user=user, app_password=password)
        assert report.app_user == user and password not in "\n".join(report.lines())
        con = pymysql.connect(host="127.0.0.1", user=user, password=password, database=mysql_database)
        with con.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM api_keys")
            assert cur.fetchone() == (0,)
            with pytest.raises(pymysql.err.OperationalError, match="denied"):
                cur.execute("DROP TABLE api_keys")
        con.close()
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        admin.close()
