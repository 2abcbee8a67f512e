from django.urls import path

from csp_platform.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/second-factor/", views.second_factor, name="second_factor"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("account/second-factor/", views.second_factor_enrol, name="second_factor_enrol"),
    path("account/password/", views.password_change, name="password_change"),
]
