// The hub map: ward choropleth, hotspot grid and published points, from the page's own JSON
// endpoints (same filters as the page). Works with no base-map tiles: the wards are drawn on
// a blank background. Every drawn ward carries data-ward / data-value, so the map can be
// checked against the ranking table beside it, which is also the map's text alternative.
(function () {
  "use strict";
  var el = document.getElementById("hub-map");
  if (!el || !window.L) { return; }
  var d = el.dataset;
  var status = document.getElementById("map-status");
  var say = function (text) { if (status) { status.textContent = text; } };

  var map = L.map(el, { zoomSnap: 0.25, keyboard: true, scrollWheelZoom: false });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  if (d.tiles) {
    L.tileLayer(d.tiles, { attribution: d.attribution || "", maxZoom: 18 }).addTo(map);
  }
  var bounds = JSON.parse(d.bounds || "null");
  if (bounds) { map.fitBounds(bounds); } else { map.setView([54.55, -1.2], 10); }
  var control = L.control.layers(null, {}, { collapsed: false }).addTo(map);

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      });
  }

  function text(tag, value) {
    var node = document.createElement(tag);
    node.textContent = value;
    return node;
  }

  // Tooltips get a text node, never a string: Leaflet inserts a string as HTML, and ward names,
  // labels and location texts come from data files that partners upload.
  function tip(value) {
    return document.createTextNode(String(value));
  }

  function wardPopup(p, label) {
    var box = document.createElement("div");
    box.appendChild(text("strong", p.name + " (" + p.generation + ")"));
    box.appendChild(text("p", label + ": " + (p.value === null ? "not available" : p.value.toLocaleString("en-GB"))));
    box.appendChild(text("p", p.incidents === null
      ? "Incidents: no data (no loaded source covers this selection)"
      : "Incidents: " + p.incidents.toLocaleString("en-GB") + ", rank " + p.rank));
    var link = text("a", "Ward profile");
    link.href = p.url;
    link.className = "govuk-link";
    box.appendChild(link);
    return box;
  }

  var wardsDone = getJSON(d.mapUrl).then(function (data) {
    var layer = L.geoJSON(data, {
      style: function (f) {
        return { color: "#0b0c0c", weight: 1.5, fillColor: f.properties.fill, fillOpacity: 0.8 };
      },
      onEachFeature: function (f, lyr) {
        var p = f.properties;
        lyr.bindTooltip(tip(p.name + ": " + (p.value === null ? "n/a" : p.value.toLocaleString("en-GB"))));
        lyr.bindPopup(function () { return wardPopup(p, data.measure_label); });
        lyr.on("add", function () {
          var path = lyr.getElement();
          if (path) {
            path.setAttribute("data-ward", p.code);
            path.setAttribute("data-value", p.value === null ? "" : String(p.value));
            path.setAttribute("data-incidents", String(p.incidents));
          }
        });
      }
    }).addTo(map);
    control.addOverlay(layer, "Wards (" + data.generation + "): " + data.measure_label.toLowerCase());
    if (!bounds && data.features.length) { map.fitBounds(layer.getBounds()); }
    el.setAttribute("data-wards-loaded", String(data.features.length));
    var n = data.features.length;
    say("Map shows " + n + (n === 1 ? " ward." : " wards."));
  }).catch(function () { say("The ward map could not be loaded; the table below has the figures."); });

  function hotspots(url) {
    return getJSON(url).then(function (data) {
      var layer = L.geoJSON(data, {
        style: function (f) {
          return { color: f.properties.fill, weight: 0, fillColor: f.properties.fill, fillOpacity: 0.75 };
        },
        onEachFeature: function (f, lyr) { lyr.bindTooltip(tip(f.properties.label)); }
      });
      control.addOverlay(layer, "Hotspots: " + (data.title || "grid density").toLowerCase());
      el.setAttribute("data-hotspots-loaded", String(data.features.length));
    });
  }

  function points(url) {
    return getJSON(url).then(function (data) {
      var group = L.layerGroup();
      data.points.forEach(function (p) {
        L.circleMarker([p.lat, p.lon], {
          radius: Math.min(3 + Math.sqrt(p.incidents), 14), color: "#ffffff", weight: 1,
          fillColor: "#0b0c0c", fillOpacity: 0.85
        }).bindTooltip(tip(p.location + ": " + p.incidents.toLocaleString("en-GB"))).addTo(group);
      });
      control.addOverlay(group, "Incidents at published map points" + (data.truncated ? " (busiest " + data.points.length + ")" : ""));
      el.setAttribute("data-points-loaded", String(data.points.length));
    });
  }

  wardsDone.then(function () {
    var extra = [];
    if (d.hotspotsUrl) { extra.push(hotspots(d.hotspotsUrl)); }
    if (d.pointsUrl) { extra.push(points(d.pointsUrl)); }
    return Promise.all(extra);
  }).catch(function () { say("A map layer could not be loaded."); })
    .then(function () { el.setAttribute("data-ready", "1"); });
})();
