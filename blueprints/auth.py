"""Sign-in, sign-out and the one-time /setup page that creates the first admin."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from alerting import sign_in
from alerting.ids import row_id
from extensions import db, login_manager
from models import User

bp = Blueprint("auth", __name__)
USERNAME_RULE = Regexp(r"^[a-z0-9][a-z0-9._-]{0,63}$",
                       message="Use lower-case letters, digits, dot, dash or underscore.")


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class SetupForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), USERNAME_RULE])
    name = StringField("Full name", validators=[Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, message="At least 8 characters.")])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", message="Passwords differ.")])


@login_manager.user_loader
def load_user(session_id):
    """The user of a session id ``<id>:<session_version>`` (User.get_id), while that version is current."""
    user_id, _, version = str(session_id).partition(":")
    number, version = row_id(user_id), row_id(version)
    user = db.session.get(User, number) if number is not None and version is not None else None
    return user if user and user.active and user.session_version == version else None


def safe_next(target):
    """Only same-site relative paths: a login link must not redirect off-site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def no_users():
    return db.session.query(User.id).first() is None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if no_users():
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, error=None)
    username, address = form.username.data.strip().lower(), request.remote_addr
    wait = sign_in.retry_after(username, address)
    if wait:
        error = f"Too many failed sign-ins. Try again in {wait} s."
        return render_template("auth/login.html", form=form, error=error), 429, {"Retry-After": str(wait)}
    user = sign_in.authenticate(username, form.password.data)
    if user is None:
        sign_in.record_failure(username, address)
        return render_template("auth/login.html", form=form, error="Wrong username or password."), 401
    sign_in.record_success(username)
    login_user(user, remember=False)
    return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))


@bp.post("/logout")
@login_required
def logout():
    current_user.end_sessions()  # a copy of this session's cookie must not outlive the logout
    db.session.commit()
    logout_user()
    flash("Signed out.")
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if not no_users():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        user = User(username=form.username.data.strip().lower(), name=form.name.data or "", role="admin")
        user.set_password(form.password.data)
        db.session.add(user)
        db.session.commit()
        login_user(user)
        return redirect(url_for("dashboard.index"))
    return render_template("auth/setup.html", form=form)
