// GOV.UK Frontend components (skip link, error summary, service navigation, details, ...).
import { initAll } from "../vendor/govuk/govuk-frontend.min.js";

initAll();
