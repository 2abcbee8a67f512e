// A small map of one area: its outline and coloured grid cells (hotspots or a forecast),
// both embedded in the page as JSON data blocks. The table beside it is its text alternative.
(function () {
  "use strict";
  var el = document.getElementById("area-map");
  if (!el || !window.L) { return; }
  var read = function (id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  };
  var outline = read("area-outline");
  var cells = read("hotspot-cells");
  var map = L.map(el, { zoomSnap: 0.25, scrollWheelZoom: false });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 18 }).addTo(map);
  }
  var layer = outline ? L.geoJSON(outline, { style: { color: "#0b0c0c", weight: 2, fill: false } }).addTo(map) : null;
  if (cells) {
    L.geoJSON(cells, {
      style: function (f) { return { color: f.properties.fill, weight: 0, fillColor: f.properties.fill, fillOpacity: 0.8 }; },
      onEachFeature: function (f, lyr) { lyr.bindTooltip(document.createTextNode(String(f.properties.label))); }
    }).addTo(map);
    el.setAttribute("data-cells", String(cells.features.length));
  }
  if (layer) { map.fitBounds(layer.getBounds()); }
  el.setAttribute("data-ready", "1");
})();
