// A stand-in for plotly.js (growc-run report --plotly-js), for checking an
// HTML analysis report without a browser (run_report.js under node): it
// keeps each plot's traces and layout as plotly.js's _fullData and
// _fullLayout, with the one default the checks read that plotly.js would
// add (an axis's type: category for string coordinates, else linear).
var Plotly = {
  newPlot: function (div, data, layout) {
    function axis(a, key) {
      a = a || {};
      var values = [].concat.apply([], data.map(function (t) {
        return t[key] || [];
      }));
      var strings = values.some(function (v) {
        return typeof v === 'string';
      });
      return Object.assign({}, a, {type: a.type || (strings ? 'category'
                                                            : 'linear')});
    }
    div._fullData = data.map(function (t) {
      return Object.assign({type: 'scatter', name: ''}, t);
    });
    div._fullLayout = Object.assign({}, layout, {
      xaxis: axis(layout.xaxis, 'x'), yaxis: axis(layout.yaxis, 'y')});
    return Promise.resolve(div);
  },
  restyle: function () { return Promise.resolve(); }
};
