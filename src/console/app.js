// The console's entry point: wires the session, the board and the receipt form to the page.

import { ApiError, createApi } from "./api.js";
import { createBoard } from "./board.js";
import { createReceiptForm } from "./receipt.js";
import { createSession } from "./session.js";

const $ = (id) => document.getElementById(id);

function apiBase() {
  const meta = document.querySelector('meta[name="stockroom-api-base"]');
  return meta ? meta.content.trim() : "";
}

function main() {
  const baseUrl = apiBase();
  const session = createSession({ baseUrl });
  const api = createApi({ baseUrl, session });

  const board = createBoard({
    api,
    elements: {
      rows: $("board-rows"),
      empty: $("board-empty"),
      error: $("board-error"),
      status: $("live-status"),
      first: $("page-first"),
      previous: $("page-previous"),
      next: $("page-next"),
      reload: $("page-reload"),
    },
  });

  const field = (name, id) => [name, { control: $(id), message: $(`${id}-error`) }];
  const receipt = createReceiptForm({
    api,
    elements: {
      form: $("receipt-form"),
      submit: $("receipt-submit"),
      error: $("receipt-error"),
      ok: $("receipt-ok"),
      fields: Object.fromEntries([
        field("product_id", "receipt-product"),
        field("location_id", "receipt-location"),
        field("quantity", "receipt-quantity"),
      ]),
    },
  });

  let working = false;

  async function showWork() {
    $("login-view").hidden = true;
    $("work-view").hidden = false;
    $("account").hidden = false;
    $("account-name").textContent = session.username();
    if (working) return;
    working = true;
    $("main").focus();
    try {
      await receipt.loadChoices();
    } catch (error) {
      $("receipt-error").textContent = error.message;
    }
    await board.start();
  }

  function showLogin() {
    if (working) board.stop();
    working = false;
    $("work-view").hidden = true;
    $("account").hidden = true;
    $("login-view").hidden = false;
    $("login-username").focus();
  }

  function render() {
    if (session.isLoggedIn()) showWork();
    else showLogin();
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = $("login-submit");
    const error = $("login-error");
    error.textContent = "";
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username || !password) {
      error.textContent = "Enter your email and password.";
      return;
    }
    submit.disabled = true;
    try {
      await session.login(username, password);
      $("login-password").value = "";
    } catch (failure) {
      error.textContent =
        failure instanceof ApiError
          ? failure.message
          : "The server could not be reached; try again.";
    } finally {
      submit.disabled = false;
    }
  });

  $("logout").addEventListener("click", () => session.logout());
  session.addEventListener("change", render);
  render();
}

main();
