//! The glossary every basis label links to: what "mean", "B-basis" and "A-basis" promise.

use super::page;

pub fn glossary_page() -> String {
    page(
        "Glossary",
        "<h1>Glossary of statistical bases</h1>\
<p>A requirement states how strong its evidence must be. The fit report compares the value of that basis with the threshold; search results and plots show means.</p>\
<dl class=\"glossary\">\
<dt id=\"typical\">Mean (typical)</dt><dd>The average of the specimens tested at the condition. Half the population lies below it.</dd>\
<dt id=\"minimum\">Every specimen (minimum)</dt><dd>Every specimen tested at the condition meets the threshold.</dd>\
<dt id=\"b-basis\">B-basis</dt><dd>A value that at least 90 % of the population exceeds, with 95 % confidence (CMH-17, MMPDS). Computed as a one-sided tolerance bound after screening outliers, testing whether batches may be pooled and choosing a Weibull, normal, lognormal or non-parametric model.</dd>\
<dt id=\"a-basis\">A-basis</dt><dd>A value that at least 99 % of the population exceeds, with 95 % confidence. Needs more specimens than a B-basis for the same margin.</dd>\
<dt id=\"provisional\">Provisional</dt><dd>A basis value from fewer than 3 batches or 18 specimens: shown for orientation; it qualifies nothing.</dd>\
<dt id=\"hhi\">Supply concentration (HHI)</dt><dd>Herfindahl–Hirschman index of producing-country shares of a material's critical elements, 0 (spread) to 10 000 (one country).</dd>\
</dl>",
    )
}
