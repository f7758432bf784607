"""Sign-in, sign-out and the one-time /setup page that creates the first admin."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

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
def load_user(user_id):
    user = db.session.get(User, int(user_id)) if str(user_id).isdigit() else None
    return user if user and user.active else None


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
    error = None
    if form.validate_on_submit():
        user = db.session.query(User).filter_by(username=form.username.data.strip().lower()).first()
        if user and user.active and user.check_password(form.password.data):
            login_user(user, remember=False)
            return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
        error = "Wrong username or password."
    return render_template("auth/login.html", form=form, error=error), 401 if error else 200


@bp.post("/logout")
@login_required
def logout():
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
