// Tsunagu console: small helpers; every page also works without them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Parts that need script are hidden until script runs.
  document.querySelectorAll("[data-js-show]").forEach((el) => el.classList.remove("hidden-js"));

  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // ケース: a chosen file is read into the editor, so it can be edited before running.
  const text = document.getElementById("cases-text");
  const file = document.getElementById("file");
  const name = document.getElementById("name");
  if (text && file && document.getElementById("cases-form")) {
    file.addEventListener("change", () => {
      const chosen = file.files && file.files[0];
      if (!chosen) return;
      chosen.text().then((content) => {
        text.value = content;
        if (name && !name.value) name.value = chosen.name.replace(/\.ya?ml$/i, "");
        file.value = "";
      });
    });
  }

  // ケース: add one case to the editor as a line of YAML (JSON strings are valid YAML).
  const add = document.getElementById("add-case");
  if (add && text) {
    add.addEventListener("click", () => {
      const message = document.getElementById("add-text");
      const expect = document.getElementById("add-expect");
      const crisis = document.getElementById("add-crisis");
      if (!message.value.trim()) { message.focus(); return; }
      const line = `- {text: ${JSON.stringify(message.value.trim())}, expect: [${expect.value}], crisis: ${crisis.value}}`;
      text.value = (text.value && !text.value.endsWith("\n") ? text.value + "\n" : text.value) + line + "\n";
      message.value = "";
      message.focus();
    });
  }
});
