/* Counter helpers for a thumb: quick quantity chips, focus the quantity after a product opens,
   print the receipt. Everything works without it (plain forms). */
(function () {
  "use strict";

  function focusQuantity() {
    var input = document.getElementById("sale-quantity");
    if (input && !document.querySelector("#panel .error-text")) {
      input.focus({preventScroll: true});
      input.select();
    }
  }

  document.addEventListener("click", function (event) {
    var chip = event.target.closest("[data-quantity-for]");
    if (chip) {
      var input = document.getElementById(chip.getAttribute("data-quantity-for"));
      if (input) {
        input.value = chip.getAttribute("data-quantity");
        input.focus();
      }
      return;
    }
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });

  // A product tapped anywhere: its panel scrolls into view (hx-swap show:) with the quantity
  // focused and selected, so the next keystrokes replace it.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "panel") {
      focusQuantity();
      showLevelEverywhere();
    }
  });

  // A loose product (sold by weight or volume) just added to the basket: its quantity field is
  // focused and selected, so the phone's number pad opens for the weight at once.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var form = (event.detail.requestConfig && event.detail.requestConfig.elt) || event.detail.elt;
    if (!target || target.id !== "basket" || !form || !form.dataset ||
        form.dataset.basket !== "add") { return; }
    var idInput = form.querySelector("input[name=product_id]");
    var line = idInput && document.querySelector(".basket-line[data-product-id='" +
                                                 idInput.value + "']");
    if (line && line.querySelector(".line-amount")) {
      var quantity = line.querySelector(".line-qty");
      quantity.focus({preventScroll: false});
      quantity.select();
    }
  });

  // After a write the panel carries the new level: the search results above show it too,
  // without fetching anything again.
  function showLevelEverywhere() {
    var figure = document.getElementById("panel-level");
    var selected = document.getElementById("selected-product");
    if (!figure || !selected || !selected.value) { return; }
    var want = figure.getAttribute("data-quantity");
    var rows = document.querySelectorAll("#picker-results [data-product-id='" +
                                         selected.value + "'] .qty");
    rows.forEach(function (qty) {
      if (qty.getAttribute("data-quantity") !== want && qty.firstChild &&
          qty.firstChild.nodeType === Node.TEXT_NODE) {
        qty.firstChild.nodeValue = want;
        qty.setAttribute("data-quantity", want);
      }
    });
  }
})();
