from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "CSP Hub"
admin.site.site_title = "CSP Hub"
admin.site.index_title = "Data hub"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
