<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_TW">
<context>
    <name>BatchList</name>
    <message>
        <location filename="../ui/batch_list.py" line="96"/>
        <source>Has a note (N to read or edit it)</source>
        <translation>有註記（按 N 檢視或編輯）</translation>
    </message>
    <message>
        <location filename="../ui/batch_list.py" line="99"/>
        <source>A note typed and not saved (N brings it back)</source>
        <translation>有輸入但未儲存的註記（按 N 取回）</translation>
    </message>
    <message>
        <location filename="../ui/batch_list.py" line="101"/>
        <source>{who} is on it now</source>
        <translation>{who} 正在處理這張影像</translation>
    </message>
    <message>
        <location filename="../ui/batch_list.py" line="297"/>
        <source>{who} is on it</source>
        <translation>{who} 處理中</translation>
    </message>
</context>
<context>
    <name>Dashboard</name>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="37"/>
        <location filename="../ui/dashboard_monitor.py" line="145"/>
        <source>paused</source>
        <translation>已暫停</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="44"/>
        <source>{flagged} of {n} images look like a possible new type ({share}); the calibration data: {expected}. Auto-judging of the batch pauses when its share is surely over {ratio}× that (judged from {least} images on).</source>
        <translation>{n} 張影像中有 {flagged} 張疑似新類別（{share}）；校正資料：{expected}。當此比例確定超過其 {ratio}× 時（自第 {least} 張影像起判斷），此批次暫停自動判定。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="52"/>
        <source>Over the limit of {limit} (its share is at least {low} at {confidence}%): auto-judging of this batch is paused.</source>
        <translation>超過上限 {limit}（其比例在 {confidence}% 信賴下至少 {low}）：此批次的自動判定已暫停。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="56"/>
        <source>Over the limit of {limit} (its share is at least {low} at {confidence}%), not paused yet: the app pauses it when it predicts the batch, as fma-judge monitor --check --batch {batch} does.</source>
        <translation>超過上限 {limit}（其比例在 {confidence}% 信賴下至少 {low}），尚未暫停：程式預測此批次時會將其暫停，fma-judge monitor --check --batch {batch} 亦同。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="61"/>
        <source>Over the limit of {limit} (its share is at least {low} at {confidence}%), but a lead resumed auto-judging of this batch for this calibration: not paused.</source>
        <translation>超過上限 {limit}（其比例在 {confidence}% 信賴下至少 {low}），但組長已針對此校準恢復此批次的自動判定：未暫停。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="65"/>
        <source>Not judged yet: {n} of the {least} images it takes. Not paused.</source>
        <translation>尚無法判斷：已有 {n} 張，需 {least} 張。未暫停。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="68"/>
        <source>Not surely over the limit of {limit} (its share is at least {low} at {confidence}%): not paused.</source>
        <translation>未確定超過上限 {limit}（其比例在 {confidence}% 信賴下至少 {low}）：未暫停。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="86"/>
        <source>paused since {time}</source>
        <translation>自 {time} 起暫停</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="88"/>
        <source>Auto-judging of this batch is paused: {flagged} of {n} of its images looked like a possible new type, surely more than the calibration data&apos;s share allows.</source>
        <translation>此批次的自動判定已暫停：{n} 張影像中有 {flagged} 張疑似新類別，確定超過校準資料比例所容許的範圍。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="93"/>
        <source>{n} held back (paused type)</source>
        <translation>保留 {n} 張（類別已暫停）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="95"/>
        <source>on · pauses at its next check</source>
        <translation>運作中 · 下次檢查時暫停</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="97"/>
        <source>on · {n} types paused</source>
        <translation>運作中 · {n} 種類別已暫停</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="98"/>
        <source>on · 1 type paused</source>
        <translation>運作中 · 1 種類別已暫停</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="99"/>
        <source>Auto-judging of this batch is on, but not for the paused defect types (Purity monitor tab).</source>
        <translation>此批次的自動判定運作中，但已暫停的缺陷類別除外（純度監控分頁）。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="104"/>
        <source>Waiting for a person because of a pause: {batch} for the batch, {leaf} of a paused defect type (Purity monitor tab).</source>
        <translation>因暫停而等待人工判定：批次暫停 {batch} 張，已暫停的缺陷類別 {leaf} 張（見「純度監控」分頁）。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="119"/>
        <source>paused by {who} since {time}: {why} ({during} checked since)</source>
        <translation>由 {who} 自 {time} 起暫停：{why}（之後已抽查 {during} 次）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="120"/>
        <source>paused by {who} since {time} ({during} checked since)</source>
        <translation>由 {who} 自 {time} 起暫停（之後已抽查 {during} 次）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="124"/>
        <source>Paused by hand by {who}{why}. During the pause: {during} checks, {during_wrong} wrong. It lifts by hand (fma-judge monitor --resume); a recalibration carries it over.</source>
        <translation>由 {who} 手動暫停{why}。暫停期間：抽查 {during} 次，{during_wrong} 次錯誤。須手動解除（fma-judge monitor --resume）；重新校準後仍保留。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="131"/>
        <source>paused since {time} ({wrong} wrong, {checks} checked; {during} checked since)</source>
        <translation>自 {time} 起暫停（{checks} 次抽查中 {wrong} 次錯誤；之後已抽查 {during} 次）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="135"/>
        <source>since the calibration</source>
        <translation>自校準以來</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="136"/>
        <source>since {time}</source>
        <translation>自 {time} 起</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="137"/>
        <source>Paused on {wrong} wrong of {checks} blind checks judged {since}: purity at most {upper}, under the {target} it is held to. During the pause: {during} checks, {during_wrong} wrong; it resumes by itself once {resume} or more are at least {target} right.</source>
        <translation>依據{since}判定的 {checks} 次盲判抽查中 {wrong} 次錯誤而暫停：純度至多 {upper}，低於應達的 {target}。暫停期間：抽查 {during} 次，錯誤 {during_wrong} 次；累積 {resume} 次以上且正確率至少 {target} 時會自動恢復。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="151"/>
        <source>on (too few checks to tell)</source>
        <translation>運作中（抽查太少，尚無法判斷）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="152"/>
        <source>{wrong} wrong of {checks} blind checks: under the {target} this type is held to so far, but too few checks to show it at {confidence}% (its purity could still be up to {upper}). Auto-judging pauses by itself once the checks show it.</source>
        <translation>{checks} 次盲判抽查中錯 {wrong} 次：目前低於此類別應達的 {target}，但抽查次數太少，無法在 {confidence}% 信賴下確定（其純度仍可能高達 {upper}）。一旦抽查足以確定，自動判定會自行暫停。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="180"/>
        <source>{n} batches unlike the calibration data</source>
        <translation>{n} 個與校準資料不同的批次</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="183"/>
        <source>&lt;b&gt;Auto-judging is paused&lt;/b&gt; for {types} and for {batches}: their images go to a person, a paused type&apos;s judged blind.</source>
        <translation>&lt;b&gt;自動判定已暫停&lt;/b&gt;：{types}，以及{batches}；其影像改由人員判定，暫停類別的影像以盲判方式判定。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="188"/>
        <source>&lt;b&gt;Auto-judging is paused&lt;/b&gt; for {what}: its images go to a person, a paused type&apos;s judged blind.</source>
        <translation>&lt;b&gt;自動判定已暫停&lt;/b&gt;：{what}；其影像改由人員判定，暫停類別的影像以盲判方式判定。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="192"/>
        <source>&lt;b&gt;Auto-judging is paused&lt;/b&gt; for {what}: its images go to a person.</source>
        <translation>&lt;b&gt;自動判定已暫停&lt;/b&gt;：{what}；其影像改由人員判定。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="195"/>
        <source>A paused type resumes by itself once {n} or more blind checks made during its pause are right at its target share; a paused batch does not.</source>
        <translation>已暫停的類別在暫停期間累積 {n} 次以上盲判抽查、且正確率達目標時會自動恢復；已暫停的批次不會自動恢復。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="200"/>
        <source>Paused by hand, so not resumed by the checks: {what}.</source>
        <translation>手動暫停，抽查結果不會自動恢復：{what}。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="204"/>
        <source>To fix it, recalibrate on the recent judged images: {command} (it updates the bundle in place and keeps its previous manifest beside it as manifest.json.before-recalibrate-…; add {out} to write a copy instead), then load the recalibrated bundle in the app: the pauses the checks made end (a lead&apos;s go on).</source>
        <translation>修正方式：以近期已判定的影像重新校準：{command}（會直接更新模型套件，並將先前的 manifest 保留於同一資料夾，名為 manifest.json.before-recalibrate-…；加上 {out} 則改為寫出一份副本），再於程式中載入重新校準的模型套件：抽查造成的暫停即告結束（組長手動的暫停仍保留）。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="212"/>
        <source>batch {name}</source>
        <translation>批次 {name}</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="216"/>
        <source>A lead can lift a pause by hand: {commands}.</source>
        <translation>組長可手動解除暫停：{commands}。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="219"/>
        <source>(BUNDLE: the model&apos;s folder; the store does not know where it was loaded from.)</source>
        <translation>（BUNDLE：模型資料夾；資料庫未記錄其載入位置。）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="80"/>
        <source>Per week</source>
        <translation>每週</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="79"/>
        <source>Per day</source>
        <translation>每日</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="81"/>
        <source>Per month</source>
        <translation>每月</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="83"/>
        <source>Refresh  (F5)</source>
        <translation>重新整理  (F5)</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="92"/>
        <source>&amp;Model:</source>
        <translation>模型(&amp;M)：</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="94"/>
        <source>&amp;Period:</source>
        <translation>期間(&amp;P)：</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="122"/>
        <source>Batch</source>
        <translation>批次</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="123"/>
        <source>Predicted</source>
        <translation>已預測</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="124"/>
        <source>Auto-judged</source>
        <translation>自動判定</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="125"/>
        <location filename="../ui/dashboard_view.py" line="149"/>
        <source>Judged</source>
        <translation>已判定</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="126"/>
        <location filename="../ui/dashboard_view.py" line="150"/>
        <source>Corrected</source>
        <translation>已更正</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="127"/>
        <location filename="../ui/dashboard_view.py" line="151"/>
        <source>Unknown type</source>
        <translation>未知類別</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="128"/>
        <location filename="../ui/dashboard_view.py" line="152"/>
        <source>Model error</source>
        <translation>模型錯誤率</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="129"/>
        <source>Drift</source>
        <translation>漂移</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="133"/>
        <source>Defect type</source>
        <translation>缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="134"/>
        <source>Spot checks</source>
        <translation>盲判抽查</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="135"/>
        <source>Wrong</source>
        <translation>錯誤</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="136"/>
        <source>Purity (bounds)</source>
        <translation>純度（信賴界限）</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="130"/>
        <location filename="../ui/dashboard_view.py" line="137"/>
        <source>Auto-judging</source>
        <translation>自動判定</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="148"/>
        <source>Analyst</source>
        <translation>分析人員</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="155"/>
        <source>Batches</source>
        <translation>批次</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="156"/>
        <source>Purity monitor</source>
        <translation>純度監控</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="157"/>
        <source>Analysts</source>
        <translation>分析人員</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="185"/>
        <source>Dashboard — fma-judge</source>
        <translation>儀表板 — fma-judge</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="235"/>
        <location filename="../ui/dashboard_view.py" line="272"/>
        <source>Loading…</source>
        <translation>載入中…</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="253"/>
        <source>No model has predicted anything yet</source>
        <translation>尚無任何模型的預測</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="321"/>
        <source>Updated {time}</source>
        <translation>更新於 {time}</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="328"/>
        <source>This multi-label model auto-judges whole sets of defect types by its calibrated set threshold; the purity monitor checks single types only, so there is nothing to show here.</source>
        <translation>此多標籤模型依校準過的組合門檻自動判定整組缺陷類別；純度監控只檢查單一類別，因此這裡沒有可顯示的內容。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="335"/>
        <source>This model version is not calibrated: nothing is auto-judged, so there is no purity to monitor.</source>
        <translation>此模型版本尚未校準：沒有影像被自動判定，因此沒有可監控的純度。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="344"/>
        <source>All types</source>
        <translation>所有類別</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="147"/>
        <source>below target</source>
        <translation>低於目標</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="102"/>
        <location filename="../ui/dashboard_monitor.py" line="159"/>
        <source>on</source>
        <translation>運作中</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="354"/>
        <source>Target purity {target}%, bounds at {confidence}% from blind spot checks.</source>
        <translation>目標純度 {target}%，以盲判抽查計算 {confidence}% 信賴界限。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="358"/>
        <source>Types the calibration showed weaker are held to their own floor: {floors}.</source>
        <translation>校準時顯示較弱的類別，以其自身的下限為準：{floors}。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="362"/>
        <source>Judged with a spectrum, held to: {floors}.</source>
        <translation>以光譜判定者，以此為準：{floors}。</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_monitor.py" line="179"/>
        <source>a batch unlike the calibration data</source>
        <translation>與校準資料不同的批次</translation>
    </message>
    <message>
        <location filename="../ui/dashboard_view.py" line="376"/>
        <source>Could not load the dashboard: {msg}</source>
        <translation>無法載入儀表板：{msg}</translation>
    </message>
</context>
<context>
    <name>Export</name>
    <message>
        <location filename="../ui/export_dialog.py" line="56"/>
        <location filename="../ui/export_dialog.py" line="172"/>
        <location filename="../ui/export_dialog.py" line="215"/>
        <source>Export labels</source>
        <translation>匯出標籤</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="59"/>
        <source>CSV training manifest (fma-model train --data)</source>
        <translation>CSV 訓練清單（fma-model train --data）</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="60"/>
        <source>JSON (with how many judgments each image had)</source>
        <translation>JSON（含每張影像的判定次數）</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="61"/>
        <source>Image folder (one sub-folder per type, copies)</source>
        <translation>影像資料夾（每種類別一個子資料夾，複製檔案）</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="66"/>
        <source>This batch: {name}</source>
        <translation>此批次：{name}</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="67"/>
        <source>Every batch</source>
        <translation>所有批次</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="69"/>
        <source>accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="69"/>
        <source>corrected</source>
        <translation>已更正</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="70"/>
        <source>unknown / new type</source>
        <translation>未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="71"/>
        <source>auto-judged</source>
        <translation>自動判定</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="71"/>
        <source>waiting</source>
        <translation>等待中</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="72"/>
        <source>unreadable</source>
        <translation>無法讀取</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="73"/>
        <source>Also the images no person decided, with their status (auto: the model&apos;s type; waiting, unreadable: no type), so that the export accounts for every image: the batch&apos;s whole result, for a report. CSV and JSON only; training skips these rows, so the model never learns from its own calls.</source>
        <translation>也匯出尚無人判定的影像及其狀態（auto：模型的類別；waiting、unreadable：無類別），讓匯出涵蓋每張影像：整批的完整結果，供報告使用。僅限 CSV 與 JSON；訓練會略過這些列，模型不會從自己的判定中學習。</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="85"/>
        <source>only judged since</source>
        <translation>只含此日期之後的判定</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="99"/>
        <source>Browse…</source>
        <translation>瀏覽…</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="108"/>
        <source>&amp;Format:</source>
        <translation>格式(&amp;F)：</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="109"/>
        <source>&amp;Images:</source>
        <translation>影像(&amp;I)：</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="110"/>
        <source>Decisions:</source>
        <translation>判定：</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="111"/>
        <source>Not for training:</source>
        <translation>不用於訓練：</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="116"/>
        <source>&amp;Write to:</source>
        <translation>寫入(&amp;W)：</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="121"/>
        <source>Export</source>
        <translation>匯出</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="168"/>
        <source>Export into a folder</source>
        <translation>匯出到資料夾</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="181"/>
        <source>No judged image matches these choices: nothing to export.</source>
        <translation>沒有符合這些選擇的已判定影像：無可匯出。</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="183"/>
        <source>Images to export: {n}</source>
        <translation>將匯出的影像：{n} 張</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="208"/>
        <source>{folder} already holds a manifest.csv (an earlier export, or a data set&apos;s own). It and notes.csv will be replaced, and the copies added to the images there; an image relabelled since its earlier export is moved to its new type&apos;s folder. Export into it?</source>
        <translation>{folder} 已有一份 manifest.csv（先前的匯出，或某個資料集本身的清單）。它與 notes.csv 會被取代，影像副本則加在原有影像的旁邊；先前匯出後改過標籤的影像會移到新類型的資料夾。仍要匯出到這裡嗎？</translation>
    </message>
    <message>
        <location filename="../ui/export_dialog.py" line="213"/>
        <source>{folder} already exists. Replace it?</source>
        <translation>{folder} 已存在。要取代它嗎？</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="423"/>
        <source>{out} is inside the folder of batch “{name}” ({folder}): opened again, that batch would take the exported copies for its own images. Export the image folder somewhere outside it.</source>
        <translation>{out} 位於批次「{name}」的資料夾（{folder}）之內：再次開啟時，該批次會把匯出的副本當成自己的影像。請將影像資料夾匯出到該資料夾以外的位置。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="427"/>
        <source>{out} is the database the judgments are kept in: give the export another name.</source>
        <translation>{out} 是保存判定結果的資料庫：請為匯出檔另取名稱。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="430"/>
        <source>{out} is a folder: give a file name, such as {example}.</source>
        <translation>{out} 是資料夾：請輸入檔案名稱，例如 {example}。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="432"/>
        <source>{out} is a file: an image-folder export needs a folder.</source>
        <translation>{out} 是檔案：影像資料夾匯出需要一個資料夾。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="434"/>
        <source>{path} was left by an export that died, and this account cannot remove it: remove it (or ask IT to), then export again.</source>
        <translation>{path} 是已中止的匯出留下的，此帳戶無法移除它：請移除它（或請 IT 協助），然後再次匯出。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="437"/>
        <source>Another export wrote into {out} meanwhile (its manifest.csv is there now): export again to replace it, or choose another folder.</source>
        <translation>另一個匯出已在此期間寫入 {out}（現已有其 manifest.csv）：請再次匯出以取代它，或選擇其他資料夾。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="440"/>
        <source>Another export is writing into {out} now ({who}, since {since}): export again when it has finished.</source>
        <translation>另一個匯出正在寫入 {out}（{who}，自 {since} 起）：請待其完成後再匯出。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="443"/>
        <source>Another export is writing into {out} now (since {since}): export again when it has finished.</source>
        <translation>另一個匯出正在寫入 {out}（自 {since} 起）：請待其完成後再匯出。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="446"/>
        <source>The auto-judged images are exported as CSV or JSON (a report), not as an image folder: training would read their folders as labels.</source>
        <translation>自動判定的影像以 CSV 或 JSON（報告）匯出，不以影像資料夾匯出：訓練會把其資料夾讀成標籤。</translation>
    </message>
</context>
<context>
    <name>FileDialogs</name>
    <message>
        <location filename="../ui/file_dialogs.py" line="39"/>
        <source>Folder</source>
        <translation>資料夾</translation>
    </message>
    <message>
        <location filename="../ui/file_dialogs.py" line="41"/>
        <source>{suffix} file</source>
        <translation>{suffix} 檔案</translation>
    </message>
    <message>
        <location filename="../ui/file_dialogs.py" line="42"/>
        <source>File</source>
        <translation>檔案</translation>
    </message>
    <message>
        <location filename="../ui/file_dialogs.py" line="54"/>
        <source>&amp;Look in:</source>
        <translation>尋找於(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../ui/file_dialogs.py" line="56"/>
        <source>Files of &amp;type:</source>
        <translation>檔案類型(&amp;T)：</translation>
    </message>
</context>
<context>
    <name>FileReason</name>
    <message>
        <location filename="../ui/style.py" line="135"/>
        <source>file not found (or a link to a missing file)</source>
        <translation>找不到檔案（或連結指向不存在的檔案）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="136"/>
        <source>file not found</source>
        <translation>找不到檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="137"/>
        <source>permission denied</source>
        <translation>權限不足</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="138"/>
        <source>cannot read the file</source>
        <translation>無法讀取檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="139"/>
        <source>cannot list the folder</source>
        <translation>無法列出資料夾內容</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="140"/>
        <source>is a folder, not an image file</source>
        <translation>這是資料夾，不是影像檔</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="142"/>
        <source>not a regular file (a pipe, device or socket)</source>
        <translation>不是一般檔案（管線、裝置或通訊端）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="143"/>
        <source>empty file (0 bytes): nothing was saved in it</source>
        <translation>空白檔案（0 位元組）：檔案中沒有儲存任何內容</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="144"/>
        <source>not a recognised image format (corrupt or wrong file type)</source>
        <translation>無法辨識的影像格式（檔案損毀或類型錯誤）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="145"/>
        <source>image too large</source>
        <translation>影像過大</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="146"/>
        <source>corrupt or truncated image</source>
        <translation>影像損毀或不完整</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="147"/>
        <source>cannot read image header</source>
        <translation>無法讀取影像標頭</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="148"/>
        <source>cannot read image</source>
        <translation>無法讀取影像</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="149"/>
        <source>its file holds another picture now</source>
        <translation>此檔案現在是另一張影像</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="191"/>
        <source>format not supported ({kind}); convert it to PNG or TIFF</source>
        <translation>不支援的格式（{kind}）；請轉換為 PNG 或 TIFF</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="196"/>
        <source>a file without a suffix</source>
        <translation>沒有副檔名的檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="198"/>
        <source>a {ext} file</source>
        <translation>{ext} 檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="199"/>
        <source>not an image ({kind}): images are PNG, JPEG, BMP or TIFF</source>
        <translation>不是影像（{kind}）：影像須為 PNG、JPEG、BMP 或 TIFF</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="202"/>
        <source>the same picture as {name}: the batch holds it once, under that name</source>
        <translation>與 {name} 是同一張影像：批次只收錄一次，以該檔名列出</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="206"/>
        <source>image too large: {width} x {height} pixels ({n} million) is over the limit of {limit} million pixels</source>
        <translation>影像過大：{width} × {height} 像素（{n} 百萬），超過 {limit} 百萬像素的上限</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="211"/>
        <source>corrupt or truncated image: a {nbytes}-byte JPEG cannot hold the {width} x {height} pixels its header claims</source>
        <translation>影像損毀或不完整：{nbytes} 位元組的 JPEG 容納不了其標頭所稱的 {width} × {height} 像素</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="228"/>
        <source>image file is truncated</source>
        <translation>影像檔在圖像結束前就截斷了</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="230"/>
        <source>broken data stream when reading image file</source>
        <translation>讀取影像時資料串流損壞</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="231"/>
        <source>Truncated File Read</source>
        <translation>影像檔在圖像結束前就截斷了</translation>
    </message>
</context>
<context>
    <name>Help</name>
    <message>
        <location filename="../ui/help_overlay.py" line="23"/>
        <source>{first}  or  {second}</source>
        <translation>{first}  或  {second}</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="42"/>
        <source>Accept the prediction</source>
        <translation>接受預測</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="43"/>
        <source>Choose that Top-k leaf</source>
        <translation>選擇該 Top-k 類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="44"/>
        <source>Open the defect-type picker</source>
        <translation>開啟缺陷類別選擇器</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="45"/>
        <source>Another defect on the image: add a type / take off the last</source>
        <translation>影像上的另一個缺陷：加入一個類別／移除最後一個</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="47"/>
        <source>Mark as unknown / new defect type</source>
        <translation>標記為未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="48"/>
        <source>Add a note to the current image</source>
        <translation>為目前影像加註記</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="49"/>
        <source>Previous / next image</source>
        <translation>上一張／下一張影像</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="50"/>
        <source>First / last image</source>
        <translation>第一張／最後一張影像</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="51"/>
        <source>One page of the list up / down</source>
        <translation>清單上移／下移一頁</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="52"/>
        <source>Scroll the prediction panel up / down (what is below its fold)</source>
        <translation>預測欄上捲／下捲一頁（看不到的下方內容）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="54"/>
        <source>Undo (across images)</source>
        <translation>復原（可跨影像）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="55"/>
        <source>Redo</source>
        <translation>重做</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="56"/>
        <source>Heatmap on / off</source>
        <translation>熱圖 開／關</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="57"/>
        <source>Heatmap side by side</source>
        <translation>熱圖並排顯示</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="58"/>
        <source>Why this type? Evidence for Top-1, 2 … 5, then attention again</source>
        <translation>為何是此類別？依序顯示 Top-1、2 … 5 的依據，再回到注意力圖</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="59"/>
        <source>Top-5: the determined group&apos;s types, or all types</source>
        <translation>前 5 名：只列已確定類別下的類別，或全部類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="60"/>
        <source>FTIR spectrum: the next reference over it / the image&apos;s next spectrum</source>
        <translation>FTIR 光譜：疊上下一個參考光譜／此影像的下一條光譜</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="62"/>
        <source>Heatmap opacity − / +</source>
        <translation>熱圖透明度 − / +</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="63"/>
        <source>Zoom in / out / fit</source>
        <translation>放大／縮小／符合視窗</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="64"/>
        <source>Brightness, contrast, gamma up (with Shift: down); R resets</source>
        <translation>亮度、對比、Gamma 調高（加 Shift 調低）；R 還原</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="65"/>
        <source>Reference images: judged examples of the Top-1 and Top-2 types</source>
        <translation>參考影像：前 1、前 2 名類別的已判定範例</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="66"/>
        <source>Filter or sort the list</source>
        <translation>篩選或排序清單</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="67"/>
        <source>Image list shown / hidden (more room for the image)</source>
        <translation>顯示／隱藏影像清單（讓影像有更多空間）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="68"/>
        <source>Files left out of the batch, and why</source>
        <translation>未加入批次的檔案及原因</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="69"/>
        <source>Close the notices over the image</source>
        <translation>關閉影像上方的通知</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="70"/>
        <source>Do what the notice over the image offers (the team&apos;s model: load it; judged meanwhile: back to it)</source>
        <translation>執行影像上方通知提供的動作（團隊模型：載入；期間已判定：回到該影像）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="72"/>
        <source>Open a folder / image files</source>
        <translation>開啟資料夾／影像檔案</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="73"/>
        <source>Choose a model</source>
        <translation>選擇模型</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="74"/>
        <source>Export labels</source>
        <translation>匯出標籤</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="75"/>
        <source>Settings: language, analyst, keyboard shortcuts, scale bar</source>
        <translation>設定：語言、分析人員、鍵盤快捷鍵、比例尺</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="76"/>
        <source>Re-judge queue (all batches)</source>
        <translation>複判佇列（所有批次）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="77"/>
        <source>Dashboard: the team&apos;s counts, spot-check purity and drift</source>
        <translation>儀表板：團隊的數量、抽查純度與漂移</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="78"/>
        <location filename="../ui/help_overlay.py" line="111"/>
        <source>Show / hide this help</source>
        <translation>顯示／隱藏本說明</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="79"/>
        <source>Close the window (judgments are saved as they are made)</source>
        <translation>關閉視窗（判定已即時儲存）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="95"/>
        <source>Accept the selected images&apos; predicted types</source>
        <translation>接受所選影像的預測類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="96"/>
        <source>One selected image: that type of its Top-5 (the details number them)</source>
        <translation>選取一張影像時：採用其前 5 名中的該類別（詳細資料中有編號）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="97"/>
        <source>Relabel the selected images (pick the type)</source>
        <translation>重新標記所選影像（選擇類別）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="98"/>
        <source>Unknown / new type</source>
        <translation>未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="99"/>
        <source>Note on the selected images</source>
        <translation>為所選影像加註記</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="100"/>
        <source>Open the image in the judging window</source>
        <translation>在判定視窗中開啟影像</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="101"/>
        <source>Move (with Shift: select as you go)</source>
        <translation>移動（按住 Shift：邊移動邊選取）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="102"/>
        <source>Select every row loaded</source>
        <translation>選取所有已載入的列</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="103"/>
        <source>On a group heading: select the group&apos;s images</source>
        <translation>在分組標題上：選取該組的影像</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="104"/>
        <source>The next / previous group heading</source>
        <translation>下一個／上一個分組標題</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="105"/>
        <source>Gallery or table</source>
        <translation>縮圖檢視或表格</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="106"/>
        <source>Undo the queue&apos;s last action (again: the one before)</source>
        <translation>復原佇列的上一個動作（再按：更前一個）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="107"/>
        <source>Export the queue as a CSV file</source>
        <translation>將佇列匯出為 CSV 檔</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="108"/>
        <source>Reload</source>
        <translation>重新載入</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="109"/>
        <source>The filters, the rows, the details</source>
        <translation>篩選條件、列表、詳細資料</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="110"/>
        <source>Back to the rows; on the rows: close the queue</source>
        <translation>回到列表；在列表上：關閉佇列</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="141"/>
        <source>Keyboard shortcuts</source>
        <translation>鍵盤快捷鍵</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="148"/>
        <source>Press any key or click to close</source>
        <translation>按任意鍵或點一下即可關閉</translation>
    </message>
</context>
<context>
    <name>Judgment</name>
    <message>
        <location filename="../ui/style.py" line="406"/>
        <source>back to waiting</source>
        <translation>退回待判定</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="394"/>
        <location filename="../ui/style.py" line="410"/>
        <source>unknown / new defect type</source>
        <translation>未知／新類別</translation>
    </message>
</context>
<context>
    <name>Keys</name>
    <message>
        <location filename="../ui/keymap.py" line="45"/>
        <source>Accept the prediction</source>
        <translation>接受預測</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="46"/>
        <source>Choose Top-{k}</source>
        <translation>選擇第 {k} 名</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="47"/>
        <source>Open the defect-type picker</source>
        <translation>開啟缺陷類別選擇器</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="48"/>
        <source>Add another defect type to the image</source>
        <translation>為影像加入另一個缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="49"/>
        <source>Take off the image&apos;s last added defect type</source>
        <translation>移除影像最後加入的缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="50"/>
        <source>Mark as unknown / new defect type</source>
        <translation>標為未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="51"/>
        <source>Add a note</source>
        <translation>加註記</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="52"/>
        <source>Previous image</source>
        <translation>上一張影像</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="53"/>
        <source>Next image</source>
        <translation>下一張影像</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="54"/>
        <source>First image</source>
        <translation>第一張影像</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="55"/>
        <source>Last image</source>
        <translation>最後一張影像</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="56"/>
        <source>One page up</source>
        <translation>上一頁</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="57"/>
        <source>One page down</source>
        <translation>下一頁</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="58"/>
        <source>Scroll the prediction panel up</source>
        <translation>預測欄上捲一頁</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="59"/>
        <source>Scroll the prediction panel down</source>
        <translation>預測欄下捲一頁</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="60"/>
        <source>Undo</source>
        <translation>復原</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="61"/>
        <source>Redo</source>
        <translation>重做</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="62"/>
        <source>Heatmap on / off</source>
        <translation>熱圖開／關</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="63"/>
        <source>Why this type?</source>
        <translation>為何是此類別？</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="64"/>
        <source>Reference images of the Top-1 and Top-2 types</source>
        <translation>第一與第二候選類別的參考影像</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="65"/>
        <source>Top-5 of the determined node, or of all types</source>
        <translation>前 5 名：已確定節點內，或全部類別</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="66"/>
        <source>FTIR spectrum: the next reference over it</source>
        <translation>FTIR 光譜：疊上下一個參考光譜</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="67"/>
        <source>FTIR spectrum: the image&apos;s next spectrum</source>
        <translation>FTIR 光譜：此影像的下一條光譜</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="68"/>
        <source>Heatmap side by side</source>
        <translation>熱圖並排</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="69"/>
        <source>Heatmap opacity down</source>
        <translation>熱圖透明度降低</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="70"/>
        <source>Heatmap opacity up</source>
        <translation>熱圖透明度提高</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="71"/>
        <source>Zoom in</source>
        <translation>放大</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="72"/>
        <source>Zoom out</source>
        <translation>縮小</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="73"/>
        <source>Fit the image</source>
        <translation>符合視窗</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="74"/>
        <source>Brightness up</source>
        <translation>亮度提高</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="75"/>
        <source>Brightness down</source>
        <translation>亮度降低</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="76"/>
        <source>Contrast up</source>
        <translation>對比提高</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="77"/>
        <source>Contrast down</source>
        <translation>對比降低</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="78"/>
        <source>Gamma up</source>
        <translation>Gamma 提高</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="79"/>
        <source>Gamma down</source>
        <translation>Gamma 降低</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="80"/>
        <source>Reset brightness, contrast, gamma</source>
        <translation>還原亮度、對比、Gamma</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="81"/>
        <source>Open a folder</source>
        <translation>開啟資料夾</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="82"/>
        <source>Open image files</source>
        <translation>開啟影像檔案</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="83"/>
        <source>Choose a model</source>
        <translation>選擇模型</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="84"/>
        <source>Export labels</source>
        <translation>匯出標籤</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="85"/>
        <source>Settings: language, analyst, keys, scale bar</source>
        <translation>設定：語言、分析人員、按鍵、比例尺</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="86"/>
        <source>Re-judge queue</source>
        <translation>複判佇列</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="87"/>
        <source>Dashboard</source>
        <translation>儀表板</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="88"/>
        <source>Filter or sort the list</source>
        <translation>篩選或排序清單</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="89"/>
        <source>Image list shown / hidden</source>
        <translation>顯示／隱藏影像清單</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="90"/>
        <source>Files left out of the batch, and why</source>
        <translation>未加入批次的檔案及原因</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="91"/>
        <source>Close the notices over the image</source>
        <translation>關閉影像上方的通知</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="92"/>
        <source>Do what the notice over the image offers (Load it, Back to it)</source>
        <translation>執行影像上方通知提供的動作（載入、回到該影像）</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="94"/>
        <source>Show / hide the shortcuts</source>
        <translation>顯示／隱藏快捷鍵</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="95"/>
        <source>Close the window</source>
        <translation>關閉視窗</translation>
    </message>
    <message>
        <location filename="../ui/keymap.py" line="166"/>
        <source>{part!r} is not a key</source>
        <translation>{part!r} 不是有效的按鍵</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="30"/>
        <source>Keyboard shortcuts</source>
        <translation>鍵盤快捷鍵</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="34"/>
        <source>Action</source>
        <translation>動作</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="35"/>
        <source>Keys (separate with ;)</source>
        <translation>按鍵（以 ; 分隔）</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="44"/>
        <source>(no key)</source>
        <translation>（無按鍵）</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="47"/>
        <location filename="../ui/keys_dialog.py" line="110"/>
        <source>Press a key…</source>
        <translation>按下按鍵…</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="59"/>
        <source>Defaults</source>
        <translation>預設值</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="71"/>
        <source>Enter: the next row · Ctrl+Enter: OK · Esc: Cancel</source>
        <translation>Enter：下一列 · Ctrl+Enter：確定 · Esc：取消</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="90"/>
        <source>Waiting…</source>
        <translation>等待按鍵…</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="92"/>
        <source>Press the key for “{action}” (Esc: keep its keys)</source>
        <translation>請按下「{action}」的按鍵（Esc：保留原按鍵）</translation>
    </message>
    <message>
        <location filename="../ui/keys_dialog.py" line="173"/>
        <source>{key} is given to both “{a}” and “{b}”: give it to one only</source>
        <translation>{key} 同時指定給「{a}」與「{b}」：只能給其中一個</translation>
    </message>
</context>
<context>
    <name>List</name>
    <message>
        <location filename="../ui/style.py" line="53"/>
        <source>; </source>
        <translation>；</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="53"/>
        <source>, </source>
        <translation>、</translation>
    </message>
</context>
<context>
    <name>ListFilter</name>
    <message>
        <location filename="../ui/list_filter.py" line="33"/>
        <source>All images</source>
        <translation>所有影像</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="34"/>
        <source>Waiting for a person</source>
        <translation>等待人工判定</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="35"/>
        <source>Sent to re-judge</source>
        <translation>送交複判</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="36"/>
        <source>Auto-judged</source>
        <translation>自動判定</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="37"/>
        <source>Judged by a person</source>
        <translation>已由人員判定</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="38"/>
        <source>Corrected</source>
        <translation>已更正</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="39"/>
        <source>Unknown / new type</source>
        <translation>未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="40"/>
        <source>Cannot be read</source>
        <translation>無法讀取</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="141"/>
        <source>All types</source>
        <translation>所有類別</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="143"/>
        <source>Batch order</source>
        <translation>批次順序</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="144"/>
        <source>Least confident first</source>
        <translation>信心最低者優先</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="145"/>
        <source>By type</source>
        <translation>依類別</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="148"/>
        <source>Show all</source>
        <translation>全部顯示</translation>
    </message>
    <message>
        <location filename="../ui/list_filter.py" line="235"/>
        <source>{n} of {m} images listed</source>
        <translation>列出 {m} 張中的 {n} 張</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <location filename="../ui/app.py" line="248"/>
        <location filename="../ui/side_actions.py" line="265"/>
        <source>Your name (recorded with every judgment):</source>
        <translation>您的姓名（每筆判定都會記錄）：</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="180"/>
        <source>The database cannot be opened:

{msg}</source>
        <translation>無法開啟資料庫：

{msg}</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="191"/>
        <source>{msg}

Restore the newest backup, made {when}? Judgments made after it are not in it. The damaged file is kept beside it.</source>
        <translation>{msg}

要還原最新的備份（建立於 {when}）嗎？之後所做的判定不在備份中。受損的檔案會保留在旁邊。</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="468"/>
        <source>Opening the database…</source>
        <translation>正在開啟資料庫…</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="313"/>
        <source>A new, empty database was made at {path}: nothing has been judged there yet. If you meant another database, close the app and check --db.</source>
        <translation>已在 {path} 建立一個新的空白資料庫：那裡尚未有任何判定。若您要用的是另一個資料庫，請關閉程式並檢查 --db。</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="319"/>
        <source>{n} sessions were not closed: ended from outside, or the power went</source>
        <translation>{n} 個工作階段未正常關閉：被外部結束，或電源中斷</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="322"/>
        <source>it was not closed: ended from outside, or the power went</source>
        <translation>程式未正常關閉：被外部結束，或電源中斷</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="323"/>
        <source>The session started {when} ended unexpectedly ({what}); every judgment and note shown as saved is in the database. Details: {path}</source>
        <translation>於 {when} 開始的工作階段意外結束（{what}）；畫面上顯示已儲存的判定與註記都在資料庫中。詳情：{path}</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="332"/>
        <source>The team&apos;s model is not reachable from this workstation: {path} (a network share not connected?). This window uses the one it had.</source>
        <translation>此工作站無法存取團隊的模型：{path}（網路共用資料夾未連線？）。此視窗沿用原本的模型。</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="336"/>
        <source>The model this workstation uses is not there: {path} (a network share not connected?). No model is loaded, so nothing is predicted or auto-judged. Connect it and start again, or choose a model with “Model”.</source>
        <translation>找不到此工作站使用的模型：{path}（網路共用資料夾未連線？）。目前未載入任何模型，因此不會預測，也不會自動判定。請連線後重新啟動，或以「模型」選擇模型。</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="341"/>
        <source>Judging as {name}: no name was given. Change it under Settings → Change analyst…</source>
        <translation>以 {name} 的身分判定：未輸入姓名。可在「設定 → 變更分析人員…」中修改</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="349"/>
        <source>Folder not found: {p}</source>
        <translation>找不到資料夾：{p}</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="52"/>
        <source>{name} — {done} of {total} done ({share}): {judged} judged, {auto} auto-judged · {left} left</source>
        <translation>{name} — 已完成 {done}／{total}（{share}）：人工判定 {judged}、自動判定 {auto} · 剩 {left} 張</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="57"/>
        <source>{n} unreadable</source>
        <translation>無法讀取 {n} 張</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="60"/>
        <source>last worked on {when}</source>
        <translation>上次作業 {when}</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="74"/>
        <source>Judge a batch of defect images</source>
        <translation>判定一批缺陷影像</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="119"/>
        <source>Open a folder of microscope images (PNG, JPEG, BMP, TIFF), or drop files here.
The model predicts each image; you accept with {accept} or correct with {topk} or {picker}.</source>
        <translation>開啟顯微鏡影像資料夾（PNG、JPEG、BMP、TIFF），或將檔案拖放到此處。
模型會預測每張影像；按 {accept} 接受，按 {topk} 或 {picker} 修正。</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="128"/>
        <source>Open a folder…</source>
        <translation>開啟資料夾…</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="79"/>
        <source>Open the demo batch</source>
        <translation>開啟示範批次</translation>
    </message>
    <message>
        <location filename="../ui/welcome.py" line="87"/>
        <source>Recent batches (Enter opens one)</source>
        <translation>最近的批次（按 Enter 開啟）</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="32"/>
        <source>Main</source>
        <translation>主工具列</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="40"/>
        <source>Open folder…</source>
        <translation>開啟資料夾…</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="41"/>
        <source>Open files…</source>
        <translation>開啟檔案…</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="42"/>
        <source>Model…</source>
        <translation>模型…</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="43"/>
        <source>Export labels…</source>
        <translation>匯出標籤…</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="46"/>
        <source>Heatmap</source>
        <translation>熱圖</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="48"/>
        <source>Side by side</source>
        <translation>並排</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="102"/>
        <source>Re-judge queue</source>
        <translation>複判佇列</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="104"/>
        <source>Shortcuts</source>
        <translation>快捷鍵</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="110"/>
        <source>Heatmap opacity ({keys})</source>
        <translation>熱圖不透明度（{keys}）</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="84"/>
        <source>Keyboard shortcuts…</source>
        <translation>鍵盤快捷鍵…</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="86"/>
        <source>Scale bar: camera pixel size…</source>
        <translation>比例尺：相機像素尺寸…</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="88"/>
        <source>Fit the right column again</source>
        <translation>重新調整右側欄高度</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="45"/>
        <location filename="../ui/toolbar.py" line="103"/>
        <source>Dashboard</source>
        <translation>儀表板</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="75"/>
        <location filename="../ui/toolbar.py" line="93"/>
        <location filename="../ui/toolbar.py" line="108"/>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="76"/>
        <source>Language</source>
        <translation>語言</translation>
    </message>
    <message>
        <location filename="../ui/toolbar.py" line="82"/>
        <source>Change analyst…</source>
        <translation>變更分析人員…</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="30"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="44"/>
        <location filename="../ui/statusbar.py" line="130"/>
        <source>No model</source>
        <translation>未載入模型</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="103"/>
        <source>Database not answering since {time}</source>
        <translation>資料庫自 {time} 起無回應</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="105"/>
        <source>Nothing can be judged or saved until it answers again; this is checked every 30 s while a batch is open.

{why}</source>
        <translation>在資料庫恢復回應之前，無法判定或儲存任何內容；開啟批次時每 30 秒檢查一次。

{why}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="112"/>
        <source>Analyst: {name}</source>
        <translation>分析人員：{name}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="116"/>
        <source>1 file not in the batch</source>
        <translation>1 個檔案未加入批次</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="117"/>
        <source>{n} files not in the batch</source>
        <translation>{n} 個檔案未加入批次</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="128"/>
        <source>Loading model…</source>
        <translation>正在載入模型…</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="132"/>
        <source>Model: {v}</source>
        <translation>模型：{v}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="133"/>
        <source>Loaded from {path}</source>
        <translation>載入自 {path}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="136"/>
        <source>Routing calibrated {when}</source>
        <translation>分流校準於 {when}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="139"/>
        <source>Runs on {engine}</source>
        <translation>執行引擎：{engine}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="141"/>
        <source>Not on its fastest path: {why}</source>
        <translation>未使用最快的執行路徑：{why}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="227"/>
        <source>Batch predicted: {n} images in {time}</source>
        <translation>批次預測完成：{n} 張影像，耗時 {time}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="229"/>
        <source>Predicted, but {n} files not reached (a share away?): predicted once they are read</source>
        <translation>已預測，但有 {n} 個檔案無法存取（網路共用資料夾未連線？）：讀取後即會預測</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="148"/>
        <source>{who} holds {file}: you start on the next image nobody holds</source>
        <translation>{who} 已保留 {file}：您從下一張無人保留的影像開始</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="160"/>
        <source>{who} holds {file}: a judgment of yours would go against theirs</source>
        <translation>{who} 已保留 {file}：您的判定將與對方衝突</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="229"/>
        <source>Auto-judging was resumed elsewhere: the routes are as they are now</source>
        <translation>自動判定已在別處恢復：路由已更新為目前狀態</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="231"/>
        <source>Auto-judging was paused elsewhere: the routes are as they are now</source>
        <translation>自動判定已在別處暫停：路由已更新為目前狀態</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="292"/>
        <source>The team&apos;s model is now {version} ({path}, deployed by {who} on {when}), but this workstation does not reach that folder; this window keeps {ours}. Once the share is connected, this notice offers to load it.</source>
        <translation>團隊的模型現為 {version}（{path}，由 {who} 於 {when} 部署），但此工作站無法存取該資料夾；此視窗繼續使用 {ours}。共用資料夾連上後，此通知會提供載入。</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="297"/>
        <source>The team&apos;s model {version} ({path}, deployed by {who} on {when}) was calibrated again; this window still routes by the calibration it loaded.</source>
        <translation>團隊的模型 {version}（{path}，由 {who} 於 {when} 部署）已重新校準；此視窗仍依載入時的校準分流。</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="300"/>
        <source>The team&apos;s model is now {version} ({path}, deployed by {who} on {when}); this window uses {ours}.</source>
        <translation>團隊的模型現為 {version}（{path}，由 {who} 於 {when} 部署）；此視窗使用 {ours}。</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="303"/>
        <source>Load it</source>
        <translation>載入</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="343"/>
        <source>No notice over the image offers anything now.</source>
        <translation>目前影像上方沒有可執行動作的通知。</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="402"/>
        <source>Read-only database ({why}). You can browse, review and export; judging is off. To judge, ask for write access or open another database with --db.</source>
        <translation>唯讀資料庫（{why}）。可以瀏覽、檢視與匯出；判定已關閉。若要判定，請申請寫入權限，或以 --db 開啟另一個資料庫。</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="443"/>
        <source>Dismiss ({key})</source>
        <translation>關閉 ({key})</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="444"/>
        <source>Dismiss</source>
        <translation>關閉</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="446"/>
        <source>{action} ({key})</source>
        <translation>{action} ({key})</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="85"/>
        <source>The model is not on its fastest path: {why}</source>
        <translation>模型未使用最快的執行路徑：{why}</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="89"/>
        <source>Now using {new} (was {old}): the open batch is predicted again by it, so its routes and counts may change.</source>
        <translation>現在使用 {new}（原為 {old}）：開啟的批次將由它重新預測，其分流與計數可能改變。</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="134"/>
        <source>Load it again</source>
        <translation>重新載入</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="135"/>
        <source>The model&apos;s files in {path} changed on disk (recalibrated or retrained?). This window still uses {version} as it was loaded. {link} to use them.</source>
        <translation>模型檔案 {path} 在磁碟上已變更（重新校正或重新訓練？）。此視窗仍使用載入時的 {version}。{link}以使用新檔案。</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="175"/>
        <source>The model could not be loaded:

{msg}

This window goes on with the model it used: {path}.</source>
        <translation>無法載入模型：

{msg}

此視窗繼續使用原本的模型：{path}。</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="182"/>
        <source>Model could not be loaded</source>
        <translation>無法載入模型</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="202"/>
        <source>This folder cannot be loaded as a model:

{msg}</source>
        <translation>此資料夾無法作為模型載入：

{msg}</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="179"/>
        <source>The model could not be loaded:

{msg}

Choose another model with “Model”. You can still open batches and review earlier judgments.</source>
        <translation>無法載入模型：

{msg}

請用「模型」選擇其他模型。您仍可開啟批次並檢視先前的判定。</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="188"/>
        <source>Choose a model bundle folder</source>
        <translation>選擇模型套件資料夾</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="199"/>
        <source>The model in use stays: {version}.</source>
        <translation>目前使用的模型保持不變：{version}。</translation>
    </message>
    <message>
        <location filename="../ui/model_loading.py" line="201"/>
        <source>Not a model</source>
        <translation>不是模型</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="42"/>
        <source>Open a folder of images</source>
        <translation>開啟影像資料夾</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="53"/>
        <source>Looking into {p}…</source>
        <translation>正在查看 {p}…</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="70"/>
        <source>Sub-folders</source>
        <translation>子資料夾</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="94"/>
        <source>Open images</source>
        <translation>開啟影像</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="95"/>
        <source>Images ({p})</source>
        <translation>影像 ({p})</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="429"/>
        <source>Automatic backup failed: {msg}</source>
        <translation>自動備份失敗：{msg}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="162"/>
        <source>Reading images…</source>
        <translation>正在讀取影像…</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="163"/>
        <source>Listing the folder… {n} entries so far</source>
        <translation>正在列出資料夾… 目前 {n} 個項目</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="168"/>
        <source>Reading images {done}/{total}</source>
        <translation>正在讀取影像 {done}/{total}</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="71"/>
        <source>The sub-folders of {folder} hold 1 more image. Open it with the folder&apos;s images?</source>
        <translation>{folder} 的子資料夾還有 1 張影像。要與此資料夾的影像一併開啟嗎？</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="73"/>
        <source>The sub-folders of {folder} hold {n} more images. Open them with the folder&apos;s images?</source>
        <translation>{folder} 的子資料夾還有 {n} 張影像。要與此資料夾的影像一併開啟嗎？</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="200"/>
        <source>Opening stopped: the images on screen stay as they were; their folder was not read to its end: open it again to read the rest.</source>
        <translation>已停止開啟：畫面上的影像維持原樣；其資料夾尚未讀取完畢，再次開啟即可讀取其餘影像。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="202"/>
        <source>Opening stopped: the images on screen stay as they were.</source>
        <translation>已停止開啟：畫面上的影像維持原樣。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="211"/>
        <source>Stopped reading the folder at {n} images: open it again to read the rest.</source>
        <translation>已停止讀取資料夾（目前 {n} 張影像）：再次開啟即可讀取其餘影像。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="224"/>
        <source>Cannot open</source>
        <translation>無法開啟</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="315"/>
        <source>No images</source>
        <translation>沒有影像</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="316"/>
        <source>There are no images (PNG, JPEG, BMP, TIFF) in {where}.</source>
        <translation>{where} 中沒有影像（PNG、JPEG、BMP、TIFF）。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="352"/>
        <source>1 image of this batch was judged in another batch (the same picture): that judgment is kept, and its panel says whose.</source>
        <translation>此批次有 1 張影像已在另一批次中判定（相同影像）：保留該判定，其面板會註明判定者。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="354"/>
        <source>{n} images of this batch were judged in other batches (the same pictures): their judgments are kept, and their panels say whose.</source>
        <translation>此批次有 {n} 張影像已在其他批次中判定（相同影像）：保留這些判定，其面板會註明判定者。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="382"/>
        <source>The model judged {file}: you start on the next image that needs a person (Up goes back)</source>
        <translation>模型已判定 {file}：從下一張需要人工判定的影像開始（按 ↑ 可返回）</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="384"/>
        <source>The model judged the first {n} images: you start on the first that needs a person</source>
        <translation>模型已判定前 {n} 張影像：從第一張需要人工判定的影像開始</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="391"/>
        <source>1 more image lies in the folder&apos;s sub-folders: open the folder again and answer Yes to add it.</source>
        <translation>此資料夾的子資料夾中還有 1 張影像：再開啟一次此資料夾並回答「是」即可加入。</translation>
    </message>
    <message>
        <location filename="../ui/batch_opening.py" line="394"/>
        <source>{n} more images lie in the folder&apos;s sub-folders: open the folder again and answer Yes to add them.</source>
        <translation>此資料夾的子資料夾中還有 {n} 張影像：再開啟一次此資料夾並回答「是」即可加入。</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="186"/>
        <source>Predicting {done}/{total} · ETA {eta}</source>
        <translation>預測中 {done}/{total} · 預估剩餘 {eta}</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="215"/>
        <source>Predictions cancelled</source>
        <translation>已取消預測</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="76"/>
        <location filename="../ui/main_window.py" line="489"/>
        <location filename="../ui/queue_actions.py" line="234"/>
        <source>Cannot show this image</source>
        <translation>無法顯示此影像</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="369"/>
        <source>Notes typed and not saved last time: {n} ({where}). {key} on their image brings each back.</source>
        <translation>上次輸入但未儲存的註記：{n}（{where}）。在其影像上按 {key} 即可取回。</translation>
    </message>
    <message>
        <location filename="../ui/store_upkeep.py" line="394"/>
        <source>{file} in {batch}</source>
        <translation>{batch} 中的 {file}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="284"/>
        <source>No file was left out of this batch.</source>
        <translation>此批次沒有未加入的檔案。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="579"/>
        <source>Notes not saved</source>
        <translation>註記未儲存</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="580"/>
        <source>Notes you typed were not saved: {n} (cancelled, or refused by the database). Close anyway and lose them?

To keep one, go back, select its image, press N and Ctrl+Enter.</source>
        <translation>您輸入的註記尚未儲存：{n} 則（已取消，或資料庫拒絕寫入）。仍要關閉並捨棄它們嗎？

若要保留，請返回、選取該影像，按 N 再按 Ctrl+Enter。</translation>
    </message>
    <message>
        <location filename="../ui/statusbar.py" line="148"/>
        <source>{left} left</source>
        <translation>剩餘 {left} 張</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="51"/>
        <source>Read-only database: judging is off ({why}).</source>
        <translation>唯讀資料庫：判定已關閉（{why}）。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="344"/>
        <source>Every image of this batch is judged.</source>
        <translation>此批次的所有影像皆已判定。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="108"/>
        <source>this batch (unlike the calibration data)</source>
        <translation>此批次（與校準資料不同）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="110"/>
        <source>1 other batch (unlike the calibration data)</source>
        <translation>另外 1 個批次（與校準資料不同）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="111"/>
        <source>{n} other batches (unlike the calibration data)</source>
        <translation>另外 {n} 個批次（與校準資料不同）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="114"/>
        <source>Auto-judging is paused for {what}. Those images come to you to judge. A lead lifts the pause (Dashboard → Purity monitor says who and why).</source>
        <translation>已暫停自動判定：{what}。這些影像改由您判定。由組長解除暫停（儀表板 → 純度監控會說明是誰及原因）。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="144"/>
        <source>This batch is unlike the calibration data ({flagged} of {n} images look unfamiliar): auto-judging is paused for it.</source>
        <translation>此批次與校準資料不同（{n} 張影像中有 {flagged} 張看起來陌生）：已暫停此批次的自動判定。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="122"/>
        <source>Spot check: the model&apos;s answer is hidden; pick the type ({keys}).</source>
        <translation>抽查：模型的答案已隱藏；請選擇類別（{keys}）。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="73"/>
        <source>Nothing judged: {file} cannot be shown ({why})</source>
        <translation>未判定：無法顯示 {file}（{why}）</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="68"/>
        <source>Nothing judged: {file} is not on screen yet</source>
        <translation>未判定：{file} 尚未顯示在畫面上</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="89"/>
        <source>Nothing accepted: {why}</source>
        <translation>未接受：{why}</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="106"/>
        <source>{file} is judged so already ({what}): nothing new was saved.</source>
        <translation>{file} 已如此判定（{what}）：未儲存新的紀錄。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="109"/>
        <source>{file} stays as you judged it ({what}): Enter does not put the model&apos;s call over your decision; {keys} change it.</source>
        <translation>{file} 維持您的判定（{what}）：Enter 不會以模型的判斷取代您的判定；要更改請按 {keys}。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="129"/>
        <source>The list has {n} types: {keys} picks one of them.</source>
        <translation>清單只有 {n} 個類別：按 {keys} 選取其中之一。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="149"/>
        <source>No defect types to pick from: no model is loaded and none has predicted this batch. Choose one with “Model”.</source>
        <translation>沒有可選的缺陷類別：尚未載入模型，且此批次未曾被任何模型預測。請以「模型」選擇模型。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="179"/>
        <source>Add a defect type beside {names}</source>
        <translation>在 {names} 之外加入缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="180"/>
        <source>Add a defect type</source>
        <translation>加入缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="185"/>
        <source>{name} is already one of this image&apos;s types</source>
        <translation>{name} 已是此影像的類別之一</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="186"/>
        <source>{name} is the model&apos;s call already: {key} accepts it</source>
        <translation>{name} 已是模型的判定：按 {key} 接受</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="194"/>
        <source>{file}: {n} defect types, {names} · {key} takes off the last</source>
        <translation>{file}：{n} 個缺陷類別，{names} · 按 {key} 移除最後一個</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="207"/>
        <source>This image has one defect type: there is none to take off.</source>
        <translation>此影像只有一個缺陷類別：沒有可移除的類別。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="213"/>
        <source>{file}: {name} taken off, now {names}</source>
        <translation>{file}：已移除 {name}，現為 {names}</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="233"/>
        <source>The note on {file} was not saved: {key} on that image brings your text back.</source>
        <translation>{file} 的註記未儲存：在該影像上按 {key} 即可取回您輸入的文字。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="254"/>
        <source>Nothing to redo</source>
        <translation>沒有可重做的動作</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="255"/>
        <source>Nothing to undo</source>
        <translation>沒有可復原的動作</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="266"/>
        <source>Redone on an image of another batch</source>
        <translation>已在另一批次的影像上重做</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="267"/>
        <source>Undone on an image of another batch</source>
        <translation>已在另一批次的影像上復原</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="275"/>
        <source>Undone on {file}: your agreement with {who}&apos;s judgment is taken back</source>
        <translation>已在 {file} 上復原：撤回您對 {who} 判定的同意</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="281"/>
        <source>Redone on {file}: its note is back</source>
        <translation>已重做 {file}：註記已恢復</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="282"/>
        <source>Undone on {file}: its note is back</source>
        <translation>已復原 {file}：註記已恢復</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="283"/>
        <source>Redone on {file}: its note taken off</source>
        <translation>已重做 {file}：註記已移除</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="284"/>
        <source>Undone on {file}: its note taken off</source>
        <translation>已復原 {file}：註記已移除</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="288"/>
        <source>Redone on {file}: now {state}</source>
        <translation>已重做 {file}：目前為{state}</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="289"/>
        <source>Undone on {file}: now {state}</source>
        <translation>已復原 {file}：目前為{state}</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="341"/>
        <source>Every image the list shows is judged (the list is filtered: F, or Show all).</source>
        <translation>清單顯示的影像皆已判定（清單已篩選：按 F，或全部顯示）。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="97"/>
        <source>1 defect type (paused by a lead)</source>
        <translation>1 個缺陷類別（由組長暫停）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="98"/>
        <source>{n} defect types (paused by a lead)</source>
        <translation>{n} 個缺陷類別（由組長暫停）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="100"/>
        <source>1 defect type (blind spot checks found its purity below target)</source>
        <translation>1 個缺陷類別（盲判抽查發現其純度低於目標）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="102"/>
        <source>{n} defect types (blind spot checks found their purity below target)</source>
        <translation>{n} 個缺陷類別（盲判抽查發現其純度低於目標）</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="118"/>
        <source>Auto-judging is paused for {what}. Those images come to you to judge. A recalibration on recent judged images resumes the checks&apos; pauses; a lead lifts their own (Dashboard → Purity monitor says which).</source>
        <translation>已暫停自動判定：{what}。這些影像改由您判定。以近期已判定的影像重新校準可恢復抽查造成的暫停；組長的暫停由組長解除（儀表板 → 純度監控會列出是哪些）。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="123"/>
        <source>Auto-judging is paused for {what}. Those images come to you to judge. To resume, recalibrate on recent judged images (fma-judge recalibrate; Dashboard → Purity monitor says which).</source>
        <translation>已暫停自動判定：{what}。這些影像改由您判定。若要恢復，請以近期已判定的影像重新校準（fma-judge recalibrate；儀表板 → 純度監控會列出是哪些）。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="133"/>
        <source>Auto-judging paused for 1 defect type: its images now come to you blind.</source>
        <translation>已暫停 1 個缺陷類別的自動判定：其影像改由您盲判。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="135"/>
        <source>Auto-judging paused for {n} defect types: their images now come to you blind.</source>
        <translation>已暫停 {n} 個缺陷類別的自動判定：其影像改由您盲判。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="138"/>
        <source>A slip of the key? {key} on that spot check lifts the pause.</source>
        <translation>按錯了嗎？在該抽查影像上按 {key} 即可解除暫停。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="150"/>
        <source>Auto-judging resumed for 1 defect type: its spot checks meet the target again.</source>
        <translation>已恢復 1 個缺陷類別的自動判定：其抽查再次達到目標。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="152"/>
        <source>Auto-judging resumed for {n} defect types: their spot checks meet the target again.</source>
        <translation>已恢復 {n} 個缺陷類別的自動判定：其抽查再次達到目標。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="156"/>
        <source>Auto-judging resumed for 1 defect type: the wrong spot check that paused it was undone.</source>
        <translation>已恢復 1 個缺陷類別的自動判定：使其暫停的錯誤抽查已復原。</translation>
    </message>
    <message>
        <location filename="../ui/purity_checks.py" line="158"/>
        <source>Auto-judging resumed for {n} defect types: the wrong spot checks that paused them were undone.</source>
        <translation>已恢復 {n} 個缺陷類別的自動判定：使其暫停的錯誤抽查已復原。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="379"/>
        <source>{file}: your earlier judgment ({what}) is replaced; {key} brings it back.</source>
        <translation>{file}：已取代您先前的判定（{what}）；按 {key} 可復原。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="387"/>
        <source>{file} was judged so already by {who} ({when}): theirs is kept, and your agreement is recorded.</source>
        <translation>{file} 已由 {who} 如此判定（{when}）：保留其判定，並記錄您的同意。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="396"/>
        <source>Judged by {who}</source>
        <translation>{who} 已判定</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="397"/>
        <source>{file} was judged {what} by {who} ({when}).

Replace their judgment with {ours}?</source>
        <translation>{file} 已由 {who} 判定為 {what}（{when}）。

要以 {ours} 取代其判定嗎？</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="402"/>
        <source>{file}: the judgment of {who} is kept.</source>
        <translation>{file}：保留 {who} 的判定。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="424"/>
        <source>Cannot redo on {file}: its note was changed since.</source>
        <translation>無法在 {file} 上重做：其註記之後已被更改。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="425"/>
        <source>Cannot undo on {file}: its note was changed since; it stays.</source>
        <translation>無法在 {file} 上復原：其註記之後已被更改；保留現有註記。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="427"/>
        <source>Cannot redo on {file}: {who} changed its note since ({when}).</source>
        <translation>無法在 {file} 上重做：{who} 之後已更改其註記（{when}）。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="428"/>
        <source>Cannot undo on {file}: {who} changed its note since ({when}); theirs stays.</source>
        <translation>無法在 {file} 上復原：{who} 之後已更改其註記（{when}）；保留其註記。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="431"/>
        <source>Cannot redo on {file}: judged since by {who} ({when}): {what}.</source>
        <translation>無法在 {file} 上重做：此後已由 {who} 判定（{when}）：{what}。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="433"/>
        <source>Cannot undo on {file}: judged since by {who} ({when}): {what}.</source>
        <translation>無法在 {file} 上復原：此後已由 {who} 判定（{when}）：{what}。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="434"/>
        <source>The next redo goes to the step before it.</source>
        <translation>下一次重做會處理更早的一步。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="435"/>
        <source>The next undo goes to your judgment before it.</source>
        <translation>下一次復原會處理您更早的判定。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="446"/>
        <source>{who} changed the note of {file} meanwhile ({when}): “{theirs}”.

Your note was not saved, so that theirs is not replaced unseen. Your text is kept: {key} on the image brings it back.</source>
        <translation>{who} 在此期間修改了 {file} 的註記（{when}）：「{theirs}」。

您的註記未儲存，以免在未看到的情況下取代對方的註記。您的文字已保留：在此影像上按 {key} 即可取回。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="449"/>
        <source>no note</source>
        <translation>無註記</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="450"/>
        <source>Note changed meanwhile</source>
        <translation>註記已被修改</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="456"/>
        <source>{file} was judged meanwhile by {who} ({when}): {what}.

Your note was not saved. The image now shows their judgment; your text is kept: {key} on the image brings it back.</source>
        <translation>{file} 在此期間已由 {who} 判定（{when}）：{what}。

您的註記未儲存。影像現在顯示對方的判定；您的文字已保留：在此影像上按 {key} 即可取回。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="460"/>
        <source>Judged meanwhile</source>
        <translation>已被他人判定</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="474"/>
        <source>{file} was judged meanwhile by {who} ({when}): {what}. Your judgment was not saved; the image shows theirs.</source>
        <translation>{file} 已在此期間由 {who}（{when}）判定為：{what}。您的判定未儲存；影像顯示其判定。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="477"/>
        <source>Back to it</source>
        <translation>回到該影像</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="551"/>
        <source>Undo NOT saved</source>
        <translation>復原未儲存</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="552"/>
        <source>The database could not be written, so nothing was undone:

{msg}

Every image keeps the judgment it shows. Fix the problem (disk space, permissions, network) and undo again.</source>
        <translation>無法寫入資料庫，因此未復原任何內容：

{msg}

每張影像保持目前顯示的判定。請排除問題（磁碟空間、權限、網路）後再復原一次。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="557"/>
        <source>Redo NOT saved</source>
        <translation>重做未儲存</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="558"/>
        <source>The database could not be written, so nothing was redone:

{msg}

Every image keeps the judgment it shows. Fix the problem (disk space, permissions, network) and redo again.</source>
        <translation>無法寫入資料庫，因此未重做任何內容：

{msg}

每張影像保持目前顯示的判定。請排除問題（磁碟空間、權限、網路）後再重做一次。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="563"/>
        <source>Note NOT saved</source>
        <translation>註記未儲存</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="564"/>
        <source>The database could not be written, so this note was not saved:

{msg}

Your text is kept on this computer: {key} on this image brings it back. Fix the problem (disk space, permissions, network) and save it again.</source>
        <translation>無法寫入資料庫，因此此註記未儲存：

{msg}

您輸入的文字已保留在這台電腦上：在此影像按 {key} 即可取回。請先排除問題（磁碟空間、權限、網路）後再儲存一次。</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="569"/>
        <source>Judgment NOT saved</source>
        <translation>判定「未」儲存</translation>
    </message>
    <message>
        <location filename="../ui/judging_actions.py" line="570"/>
        <source>The database could not be written, so this judgment was not saved:

{msg}

The image keeps its previous state. Fix the problem (disk space, permissions, network) and judge it again.</source>
        <translation>無法寫入資料庫，因此這筆判定沒有儲存：

{msg}

影像維持原本的狀態。請排除問題（磁碟空間、權限、網路）後再判定一次。</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="240"/>
        <source>That image is not in any batch.</source>
        <translation>該影像不在任何批次中。</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="244"/>
        <source>This image is in the batch “{other}”. Open that batch and leave “{this}”? Its judgments are kept; opening its folder again resumes it.</source>
        <translation>此影像屬於批次「{other}」。要開啟該批次並離開「{this}」嗎？其判定都會保留；再次開啟其資料夾即可接續。</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="259"/>
        <source>The language changes the next time fma-judge starts.</source>
        <translation>語言將於下次啟動 fma-judge 時變更。</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="289"/>
        <source>Scale bar</source>
        <translation>比例尺</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="290"/>
        <source>Camera pixel size in µm (the sensor&apos;s pixel pitch; 0: no scale bar).
The scale bar shows where the image&apos;s magnification is known.</source>
        <translation>相機像素尺寸，單位 µm（感測器像素間距；0：不顯示比例尺）。
已知影像倍率時才顯示比例尺。</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="339"/>
        <source>Exporting labels to {p}…</source>
        <translation>正在匯出標籤到 {p}…</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="343"/>
        <source>Exporting labels to {p}… {n} so far</source>
        <translation>正在匯出標籤至 {p}…已完成 {n} 筆</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="406"/>
        <source>Exported 1 row to {p}: no person decided it (training skips it)</source>
        <translation>已匯出 1 列至 {p}：無人判定（訓練會略過）</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="408"/>
        <source>Exported {n} rows to {p}: {j} judged, {k} no person decided (training skips them)</source>
        <translation>已匯出 {n} 列至 {p}：{j} 列已判定，{k} 列無人判定（訓練會略過）</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="412"/>
        <source>Exported 1 label to {p}</source>
        <translation>已匯出 1 筆標籤至 {p}</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="413"/>
        <source>Exported {n} labels to {p}</source>
        <translation>已匯出 {n} 筆標籤至 {p}</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="415"/>
        <source> ({k} images skipped: their files are gone or hold another picture now, or their types are not in their model&apos;s tree)</source>
        <translation>（略過 {k} 張影像：檔案已不存在或已換成另一張影像，或其類別不在其模型的分類樹中）</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="419"/>
        <source>; {k} exported rows name files that are not there now or hold another picture now</source>
        <translation>；匯出的列中有 {k} 筆指向目前已不存在或已換成另一張影像的檔案</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="423"/>
        <source>; {k} copies an earlier export made there under an old type removed (relabelled since)</source>
        <translation>；已移除先前匯出留在舊類型資料夾的 {k} 份副本（之後改了標籤）</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="427"/>
        <source>; 1 copy an earlier export made there is not in this export and stays (outside its scope, or its file gone): export into a new folder for one that holds only this export</source>
        <translation>；先前匯出留在該處的 1 份副本不在本次匯出中，予以保留（不在範圍內，或原檔已不在）：要只含本次匯出的資料夾，請匯出到新資料夾</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="430"/>
        <source>; {k} copies an earlier export made there are not in this export and stay (outside its scope, or their files gone): export into a new folder for one that holds only this export</source>
        <translation>；先前匯出留在該處的 {k} 份副本不在本次匯出中，予以保留（不在範圍內，或原檔已不在）：要只含本次匯出的資料夾，請匯出到新資料夾</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="347"/>
        <source>Export failed</source>
        <translation>匯出失敗</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="93"/>
        <source>No references for this image (a spot check, or no prediction yet)</source>
        <translation>此影像沒有參考影像（抽查影像，或尚無預測）</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="122"/>
        <source>Reference {i}/{n}: {name} (Top-{k}) · judged by {who} · {key}: next</source>
        <translation>參考 {i}/{n}：{name}（第 {k} 候選）· 判定者 {who} · {key}：下一張</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="135"/>
        <source>The reference cannot be shown: {why}</source>
        <translation>無法顯示參考影像：{why}</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="157"/>
        <source>{why}: the folder is being read again. A file renamed since shows under its new name once it is read.</source>
        <translation>{why}：正在重新讀取資料夾。之後改名的檔案在讀到時會以新名稱顯示。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="160"/>
        <source>{why}: not reached now (a network share away?). It is read again when you come back to this image; nothing can be judged on it until it shows.</source>
        <translation>{why}：目前無法存取（網路共用資料夾未連線？）。回到此影像時會再讀取一次；影像顯示前無法判定。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="167"/>
        <source>Its file holds another picture now (listed at the end of the batch): this image cannot be shown, and what was judged on it stays.</source>
        <translation>此檔案現在是另一張影像（列在本批次最後）：這張影像無法顯示，已做的判定保留。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="178"/>
        <source>Reading {file}…</source>
        <translation>正在讀取 {file}…</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="325"/>
        <source>The folder {folder} is not there: moved, renamed, or on a drive or share that is not connected.</source>
        <translation>資料夾 {folder} 不存在：可能已移動、重新命名，或位於未連線的磁碟或共用資料夾。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="328"/>
        <source>{path} cannot be read: you have no permission to read it.</source>
        <translation>無法讀取 {path}：您沒有讀取權限。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="331"/>
        <source>The folder {folder} was never opened with this database, and {why}: there is nothing of it to show.</source>
        <translation>資料夾 {folder} 從未以此資料庫開啟過，而{why}：沒有可顯示的內容。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="453"/>
        <source>A key or click made while the window was not answering ({s:.0f} s) was not used</source>
        <translation>視窗無回應期間（{s:.0f} 秒）的 1 次按鍵或點擊未被採用</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="455"/>
        <source>{n} keys or clicks made while the window was not answering ({s:.0f} s) were not used</source>
        <translation>視窗無回應期間（{s:.0f} 秒）的 {n} 次按鍵或點擊未被採用</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="457"/>
        <source>: look at the image on screen, then press again.</source>
        <translation>：請先看畫面上的影像，再按一次。</translation>
    </message>
    <message>
        <location filename="../ui/alerts.py" line="51"/>
        <source>Something went wrong, so what the last key or click asked for may not have been done ({what}). Saved judgments are kept. Details: {path}</source>
        <translation>發生錯誤，剛才的按鍵或點擊所要求的動作可能沒有完成（{what}）。已儲存的判定都保留。詳細資訊：{path}</translation>
    </message>
    <message>
        <location filename="../ui/workers.py" line="246"/>
        <source>Predictions not saved: {msg}</source>
        <translation>預測未儲存：{msg}</translation>
    </message>
    <message>
        <location filename="../ui/workers.py" line="339"/>
        <source>Prediction not saved: {msg}</source>
        <translation>預測未儲存：{msg}</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../ui/side_actions.py" line="97"/>
        <source>Image list shown</source>
        <translation>已顯示影像清單</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="98"/>
        <source>Image list hidden: {key} shows it again</source>
        <translation>已隱藏影像清單：按 {key} 再顯示</translation>
    </message>
    <message>
        <location filename="../ui/side_actions.py" line="108"/>
        <source>Little room for the image: {key} hides the image list</source>
        <translation>影像的空間太小：按 {key} 隱藏影像清單</translation>
    </message>
</context>
<context>
    <name>Note</name>
    <message>
        <location filename="../ui/note_dialog.py" line="36"/>
        <source>Note</source>
        <translation>註記</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="37"/>
        <source>Note for {name}:</source>
        <translation>{name} 的註記：</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="49"/>
        <source>Ctrl+Enter saves · Esc cancels · an empty note removes it</source>
        <translation>Ctrl+Enter 儲存 · Esc 取消 · 清空註記即刪除</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="54"/>
        <source>Your unsaved text is back · Ctrl+Enter saves it · Esc keeps it for later</source>
        <translation>已取回您未儲存的文字 · Ctrl+Enter 儲存 · Esc 留待稍後</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="132"/>
        <source>{who} removed this image&apos;s note after you typed the text below.</source>
        <translation>在您輸入下方文字後，{who} 已移除此影像的註記。</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="133"/>
        <source>This image&apos;s note was removed after you typed the text below.</source>
        <translation>在您輸入下方文字後，此影像的註記已被移除。</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="135"/>
        <source>{who} changed this image&apos;s note after you typed the text below; it reads now:</source>
        <translation>在您輸入下方文字後，{who} 已更改此影像的註記；目前內容為：</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="137"/>
        <source>This image&apos;s note was changed after you typed the text below; it reads now:</source>
        <translation>在您輸入下方文字後，此影像的註記已被更改；目前內容為：</translation>
    </message>
    <message>
        <location filename="../ui/note_dialog.py" line="138"/>
        <source>Ctrl+Enter puts your text in its place (copy theirs in to keep it) · Esc keeps yours for later</source>
        <translation>Ctrl+Enter 以您的文字取代之（若要保留對方的註記，請將其複製進來）· Esc 保留您的文字供之後使用</translation>
    </message>
</context>
<context>
    <name>Panel</name>
    <message>
        <location filename="../ui/main_window.py" line="92"/>
        <location filename="../ui/prediction_panel.py" line="517"/>
        <source>unknown / new defect type</source>
        <translation>未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="93"/>
        <source>spot check · judge blind</source>
        <translation>抽查 · 盲判</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="94"/>
        <location filename="../ui/queue_view.py" line="375"/>
        <source>{leaf} (not in this model&apos;s tree)</source>
        <translation>{leaf}（不在此模型的類別樹中）</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="170"/>
        <location filename="../ui/prediction_panel.py" line="487"/>
        <source>Predicted path</source>
        <translation>預測路徑</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="444"/>
        <source>No image selected</source>
        <translation>未選取影像</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="479"/>
        <location filename="../ui/queue_gallery.py" line="501"/>
        <source>✓ {node} is determined · pick the type</source>
        <translation>✓ 已確定為 {node} · 請選擇類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="486"/>
        <source>Predicted path · image + FTIR spectrum</source>
        <translation>預測路徑 · 影像 + FTIR 光譜</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="492"/>
        <source>{n} defects: {names} · Enter accepts all · Shift+C adds one · X takes off the last</source>
        <translation>{n} 個缺陷：{names} · Enter 全部接受 · Shift+C 加入一個 · X 移除最後一個</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="520"/>
        <source>Judged &lt;b&gt;{what}&lt;/b&gt; by {who} at {when}</source>
        <translation>由 {who} 於 {when} 判定為 &lt;b&gt;{what}&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="525"/>
        <source>Note: {note}</source>
        <translation>註記：{note}</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="529"/>
        <source>Re-judge: {reasons}</source>
        <translation>需複判：{reasons}</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="374"/>
        <source>Pick the type</source>
        <translation>選擇類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="363"/>
        <source>Why this type? Where the model finds evidence for it ({key} steps through the Top-5)</source>
        <translation>為何是此類別？模型在影像中找到其依據之處（{key} 依序切換 Top-5）</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="375"/>
        <source>Accept</source>
        <translation>接受</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="376"/>
        <source>Other type…</source>
        <translation>其他類別…</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="377"/>
        <source>Unknown / new type</source>
        <translation>未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="378"/>
        <source>Note</source>
        <translation>註記</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="388"/>
        <source>The {n} types in {node} (press {keys}) · {key}: all types</source>
        <translation>{node} 內的 {n} 個類別（按 {keys}）· {key}：全部類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="391"/>
        <source>Top-5 in {node} (press {keys}) · {key}: all types</source>
        <translation>{node} 內前 5 名（按 {keys}）· {key}：全部類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="394"/>
        <source>Top-5 (press {keys}) · {key}: only {node}</source>
        <translation>前 5 名（按 {keys}）· {key}：只看 {node}</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="396"/>
        <source>Top-5 (press {keys})</source>
        <translation>前 5 名（按 {keys}）</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="474"/>
        <source>Spot check: judge this image blind. The model&apos;s answer is hidden; pick the type ({keys}).</source>
        <translation>抽查：請盲判此影像。模型的答案已隱藏；請選擇類別（{keys}）。</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="518"/>
        <source>Judged &lt;b&gt;{what}&lt;/b&gt; by {who} at {when}, in another batch (the same picture)</source>
        <translation>由 {who} 於 {when} 在另一批次中判定為 &lt;b&gt;{what}&lt;/b&gt;（相同影像）</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="543"/>
        <source>Model: {v}</source>
        <translation>模型：{v}</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="555"/>
        <source>grayscale</source>
        <translation>灰階</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="556"/>
        <source>black and white</source>
        <translation>黑白</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="557"/>
        <source>grayscale + alpha</source>
        <translation>灰階＋透明</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="558"/>
        <source>palette</source>
        <translation>調色盤</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="559"/>
        <source>float</source>
        <translation>浮點</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="562"/>
        <source>from the file name</source>
        <translation>取自檔名</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="563"/>
        <source>from the TIFF description</source>
        <translation>取自 TIFF 描述</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="571"/>
        <source>taken {when}</source>
        <translation>拍攝於 {when}</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="572"/>
        <source>saved {when}</source>
        <translation>存檔於 {when}</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="259"/>
        <source>No model is loaded: choose one with “Model” to get predictions. You can still judge with C or U.</source>
        <translation>尚未載入模型：請以「模型」選擇模型以取得預測。仍可用 C 或 U 判定。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="261"/>
        <source>No model is loaded, and no defect types are known for this batch yet: choose a model with “Model” to get predictions and the types to pick from. Until then U marks an image as a new type and N writes a note.</source>
        <translation>尚未載入模型，此批次也還沒有已知的缺陷類別：請以「模型」選擇模型，以取得預測及可選的類別。在此之前，可用 U 標為新類別，用 N 寫註記。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="265"/>
        <source>The model is loading; its prediction for this image follows: press Enter once it is shown.</source>
        <translation>模型載入中，這張影像的預測隨後顯示；顯示後按 Enter 即可接受。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="267"/>
        <source>Predicting… this image is in the queue: press Enter once its prediction is shown.</source>
        <translation>預測中…這張影像正在排隊；預測顯示後按 Enter 即可接受。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="269"/>
        <source>Not predicted: the database is read-only, so the model does not run.</source>
        <translation>未預測：資料庫為唯讀，因此模型不會執行。</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="271"/>
        <source>Not predicted yet: the model did not reach its file (a network share away?). It is predicted once the file is read again.</source>
        <translation>尚未預測：模型無法存取其檔案（網路共用資料夾未連線？）。檔案再次讀取後即會預測。</translation>
    </message>
</context>
<context>
    <name>Queue</name>
    <message>
        <location filename="../ui/style.py" line="66"/>
        <source>low confidence</source>
        <translation>信心度低</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="67"/>
        <source>class below target</source>
        <translation>類別未達目標</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="68"/>
        <source>possible new type</source>
        <translation>可能為新類別</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="69"/>
        <source>spot check</source>
        <translation>盲判抽查</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="71"/>
        <source>auto-judging of its type paused</source>
        <translation>此類別的自動判定已暫停</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="72"/>
        <source>batch unlike calibration data</source>
        <translation>批次與校準資料不同</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="73"/>
        <source>held back by an earlier pause</source>
        <translation>因先前的暫停而保留</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="74"/>
        <source>a blind check: the model&apos;s call is hidden until you judge it</source>
        <translation>盲判抽查：判定前不顯示模型的判斷</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="33"/>
        <source>{n} min</source>
        <translation>{n} 分鐘</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="35"/>
        <source>{n} h</source>
        <translation>{n} 小時</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="36"/>
        <source>{n} d</source>
        <translation>{n} 天</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="112"/>
        <source>Nothing undone: {who} changed the note of {file} since ({when}).</source>
        <translation>未復原任何內容：{who} 之後已更改 {file} 的註記（{when}）。</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="114"/>
        <source>Nothing undone: the note of {file} was changed since.</source>
        <translation>未復原任何內容：{file} 的註記之後已被更改。</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="200"/>
        <source>File</source>
        <translation>檔案</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="201"/>
        <source>Predicted</source>
        <translation>預測</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="48"/>
        <location filename="../ui/queue_model.py" line="202"/>
        <source>Confidence</source>
        <translation>信心度</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="203"/>
        <source>Reasons</source>
        <translation>原因</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="204"/>
        <source>New-type score</source>
        <translation>新類別分數</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="51"/>
        <location filename="../ui/queue_model.py" line="205"/>
        <source>Batch</source>
        <translation>批次</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="206"/>
        <source>Waiting</source>
        <translation>等待</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="207"/>
        <source>State</source>
        <translation>狀態</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="245"/>
        <source>Nothing determined</source>
        <translation>未確定任何層級</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="248"/>
        <source>{node} (determined)</source>
        <translation>{node}（已確定）</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="250"/>
        <source>{node} (determined) · pick the type</source>
        <translation>{node}（已確定）· 請選擇類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="255"/>
        <source>{name} — {n} waiting</source>
        <translation>{name} — {n} 張待判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="257"/>
        <source>{name} — 1 image</source>
        <translation>{name} — 1 張</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="258"/>
        <source>{name} — {n} images</source>
        <translation>{name} — {n} 張</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="264"/>
        <source>Click (or Space) to select the group&apos;s images; Ctrl+Down and Ctrl+Up go to the next and the previous group</source>
        <translation>點一下（或按空白鍵）選取此群組的影像；Ctrl+Down 與 Ctrl+Up 移到下一個與上一個群組</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="42"/>
        <source>All reasons</source>
        <translation>所有原因</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="45"/>
        <source>All predicted types</source>
        <translation>所有預測類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="46"/>
        <source>All batches</source>
        <translation>所有批次</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="49"/>
        <source>Waiting longest</source>
        <translation>等待最久</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="50"/>
        <location filename="../ui/queue_filters.py" line="86"/>
        <source>Predicted type</source>
        <translation>預測類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="52"/>
        <source>Reason</source>
        <translation>原因</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="57"/>
        <source>Re&amp;verse</source>
        <translation>反向(&amp;V)</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="67"/>
        <source>Waiting to be judged</source>
        <translation>待判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="76"/>
        <source>Any time</source>
        <translation>不限</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="77"/>
        <source>Over 1 hour</source>
        <translation>超過 1 小時</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="78"/>
        <source>Over 1 day</source>
        <translation>超過 1 天</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="79"/>
        <source>Over 1 week</source>
        <translation>超過 1 週</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="85"/>
        <source>No grouping</source>
        <translation>不分組</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="87"/>
        <source>Determined node</source>
        <translation>已確定的節點</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="88"/>
        <source>Determined node: the deepest group or subgroup the model is sure of at the target purity; a group&apos;s images can be judged together (click its heading, then C)</source>
        <translation>已確定的節點：模型在目標純度下有把握的最深一層大類或子類；同一組的影像可一起判定（點組標題，再按 C）</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="95"/>
        <source>&amp;Reason:</source>
        <translation>原因(&amp;R)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="96"/>
        <source>&amp;Predicted:</source>
        <translation>預測(&amp;P)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="97"/>
        <source>&amp;Batch:</source>
        <translation>批次(&amp;B)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="98"/>
        <source>&amp;Waiting:</source>
        <translation>等待時間(&amp;W)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="99"/>
        <source>Con&amp;fidence:</source>
        <translation>信心度(&amp;F)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="106"/>
        <source>&amp;Sort:</source>
        <translation>排序(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="108"/>
        <source>&amp;Group:</source>
        <translation>分組(&amp;G)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="110"/>
        <source>Sta&amp;te:</source>
        <translation>狀態(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="112"/>
        <source>&amp;Analyst:</source>
        <translation>分析人員(&amp;A)：</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="189"/>
        <source>{name} — every type ({n})</source>
        <translation>{name} — 所有類別 ({n})</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="198"/>
        <source>Accept selected  (Enter)</source>
        <translation>接受所選  (Enter)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="201"/>
        <source>Relabel selected…  (C)</source>
        <translation>重新標記所選…  (C)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="202"/>
        <source>Unknown / new type  (U)</source>
        <translation>未知／新類別  (U)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="203"/>
        <source>Note…  (N)</source>
        <translation>註記…  (N)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="204"/>
        <source>Gallery  (Ctrl+G)</source>
        <translation>縮圖檢視  (Ctrl+G)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="210"/>
        <source>Undo last  (Ctrl+Z)</source>
        <translation>復原上一步  (Ctrl+Z)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="211"/>
        <source>Export queue…</source>
        <translation>匯出佇列…</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="212"/>
        <source>Reload  (F5)</source>
        <translation>重新載入  (F5)</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="272"/>
        <source>Re-judge queue — fma-judge</source>
        <translation>複判佇列 — fma-judge</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="397"/>
        <source>Load a model to see its queue</source>
        <translation>請載入模型以查看其佇列</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="524"/>
        <source>blind checks (in their batch): {n}</source>
        <translation>盲判抽查（在其批次中）：{n}</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="213"/>
        <source>Space: select the group</source>
        <translation>空白鍵：選取此群組</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="233"/>
        <source>cannot be read</source>
        <translation>無法讀取</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="236"/>
        <source>loading…</source>
        <translation>讀取中…</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="419"/>
        <source>No image in this list: nothing waits for a person here, or the filters leave none</source>
        <translation>清單中沒有影像：這裡沒有等待人工判定的影像，或篩選條件排除了全部</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="421"/>
        <source>Select an image to see it here</source>
        <translation>選取影像以在此檢視</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="423"/>
        <location filename="../ui/queue_view.py" line="400"/>
        <location filename="../ui/queue_view.py" line="420"/>
        <source>Loading…</source>
        <translation>載入中…</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="477"/>
        <source>Attention (CBAM)</source>
        <translation>注意力（CBAM）</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="478"/>
        <source>Where the model looked for {name} (LayerCAM)</source>
        <translation>模型判斷為 {name} 時關注的區域（LayerCAM）</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="489"/>
        <source>waiting {age}</source>
        <translation>已等待 {age}</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="529"/>
        <source>model: {name} {conf}</source>
        <translation>模型：{name} {conf}</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="187"/>
        <location filename="../ui/queue_gallery.py" line="509"/>
        <source>Sent to a person: {reasons}</source>
        <translation>送交人工原因：{reasons}</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="254"/>
        <location filename="../ui/queue_model.py" line="292"/>
        <source>{who} holds it</source>
        <translation>{who} 已保留</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="491"/>
        <source>judged by {who}</source>
        <translation>由 {who} 判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_gallery.py" line="517"/>
        <source>Note: {note}</source>
        <translation>註記：{note}</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="499"/>
        <source>Could not load the queue: {msg}</source>
        <translation>無法載入佇列：{msg}</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="516"/>
        <source>Counting…</source>
        <translation>計算中…</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="520"/>
        <source>{n} judged or waiting</source>
        <translation>{n} 張已判定或待判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="518"/>
        <source>{n} waiting</source>
        <translation>{n} 張待判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="68"/>
        <source>Judged</source>
        <translation>已判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="69"/>
        <source>Accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="70"/>
        <source>Corrected</source>
        <translation>已更正</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="71"/>
        <source>Unknown / new type</source>
        <translation>未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="72"/>
        <source>Waiting or judged</source>
        <translation>待判定或已判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_filters.py" line="82"/>
        <source>All analysts</source>
        <translation>所有分析人員</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="522"/>
        <source>{n} judged</source>
        <translation>{n} 張已判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="527"/>
        <source>under another model&apos;s predictions: {n} (opening their batch predicts them with this one)</source>
        <translation>其他模型預測的影像：{n}（開啟其批次即以此模型預測）</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="532"/>
        <source>{n} selected: every row loaded, of {total} (more load as you scroll)</source>
        <translation>已選 {n} 張：已載入的全部列，共 {total} 張（捲動時載入更多）</translation>
    </message>
    <message>
        <location filename="../ui/queue_view.py" line="535"/>
        <source>{n} selected</source>
        <translation>已選 {n} 張</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="134"/>
        <source>Loading the rest of the group: {n} of its {m} images selected so far…</source>
        <translation>正在載入群組其餘影像：已選取 {m} 張中的 {n} 張…</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="149"/>
        <source>All {n} images of the group are selected</source>
        <translation>已選取群組全部 {n} 張影像</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="159"/>
        <source>The group is still loading ({n} selected so far): a moment, then press the key again</source>
        <translation>群組仍在載入（目前已選取 {n} 張）：請稍候再按一次</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="210"/>
        <source>{loaded} of the {total} rows are loaded: End again goes on</source>
        <translation>已載入 {total} 列中的 {loaded} 列：再按 End 繼續</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="220"/>
        <source>Nothing judged: {who} holds it (on it, or next in their list); it is left to them.</source>
        <translation>未判定：{who} 已保留此影像（正在處理，或在其清單中排在下一張）；留給對方判定。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="232"/>
        <source>Nothing judged: {file} cannot be shown ({why})</source>
        <translation>未判定：無法顯示 {file}（{why}）</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="267"/>
        <source>Nothing selected: Space selects this group&apos;s images, then the key judges them</source>
        <translation>未選取任何影像：按空白鍵選取這一組的影像，再按鍵判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="269"/>
        <source>Nothing selected: select images first</source>
        <translation>未選取任何影像：請先選取影像</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="278"/>
        <source>Nothing judged: their files hold another picture now</source>
        <translation>未判定：這些影像的檔案現在是另一張影像</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="292"/>
        <source>Nothing accepted: Enter does not put the model&apos;s call over your own decisions; C or U change them</source>
        <translation>未接受任何影像：Enter 不會以模型的判斷取代您自己的判定；要更改請按 C 或 U</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="294"/>
        <source>Nothing accepted: you judged these so already</source>
        <translation>未接受任何影像：您已如此判定這些影像</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="302"/>
        <source>Accepted {n} images</source>
        <translation>已接受 {n} 張影像</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="302"/>
        <source>Accepted 1 image</source>
        <translation>已接受 1 張影像</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="320"/>
        <source>Judged so already by {who}: theirs is kept, and your agreement is recorded</source>
        <translation>已由 {who} 如此判定：保留其判定，並記錄您的同意</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="329"/>
        <source>{files} was judged otherwise by {who}. Replace their judgment?</source>
        <translation>{files} 已由 {who} 判定為其他類別。要取代其判定嗎？</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="332"/>
        <source>{n} of these images ({files}) were judged otherwise by {who}. Replace their judgments?</source>
        <translation>這些影像中有 {n} 張（{files}）已由 {who} 判定為其他類別。要取代其判定嗎？</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="336"/>
        <source>Yes: replace theirs too. No: leave theirs and judge the other {m}. Cancel: judge none.</source>
        <translation>是：連同其判定一併取代。否：保留其判定，只判定其餘 {m} 張。取消：都不判定。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="339"/>
        <source>Judged by colleagues</source>
        <translation>同事已判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="348"/>
        <source>Nothing judged: the judgments of {who} are kept</source>
        <translation>未判定任何影像：保留 {who} 的判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="362"/>
        <source>Your agreement with your colleagues&apos; judgments was NOT saved: {msg}</source>
        <translation>您對同事判定的同意未儲存：{msg}</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="378"/>
        <source>Accept the model&apos;s type for {n} images as they are?</source>
        <translation>要依模型的判定接受這 {n} 張影像嗎？</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="380"/>
        <source>Its confidence in them is {low:.0%} to {high:.0%}.</source>
        <translation>模型對它們的信心度為 {low:.0%} 至 {high:.0%}。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="383"/>
        <source>For {m} of them not even the group and subgroup are determined.</source>
        <translation>其中 {m} 張連群組與子群組都未確定。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="386"/>
        <source>Only the {loaded} rows loaded are selected, of the {total} the queue lists; the rest stay (End loads more).</source>
        <translation>只選取了已載入的 {loaded} 列（佇列共 {total} 列）；其餘不變（按 End 載入更多）。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="389"/>
        <source>Accept {n} images?</source>
        <translation>接受 {n} 張影像？</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="401"/>
        <source>{k} picks from one image&apos;s Top-5: select one image, or relabel the {n} selected with C</source>
        <translation>{k} 從單張影像的前五名中選取：請只選一張影像，或按 C 一次改判已選的 {n} 張</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="415"/>
        <source>This image&apos;s prediction has no type {k}</source>
        <translation>這張影像的預測沒有第 {k} 個類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="421"/>
        <source>Judged 1 image: {name}</source>
        <translation>已判定 1 張影像：{name}</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="432"/>
        <source>Load a model to relabel (its taxonomy is needed)</source>
        <translation>請先載入模型才能重新標記（需要其類別樹）</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="438"/>
        <source>Relabel {n} images as…</source>
        <translation>將 {n} 張影像重新標記為…</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="444"/>
        <source>Relabelled 1 image as {name}</source>
        <translation>已將 1 張影像重新標記為 {name}</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="445"/>
        <source>Relabelled {n} images as {name}</source>
        <translation>已將 {n} 張影像重新標記為 {name}</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="456"/>
        <source>Marked 1 image unknown / new type</source>
        <translation>已將 1 張影像標為未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="457"/>
        <source>Marked {n} images unknown / new type</source>
        <translation>已將 {n} 張影像標為未知／新類別</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="492"/>
        <source>Note for the {n} selected images:</source>
        <translation>已選取的 {n} 張影像的註記：</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="515"/>
        <source>Undid the note on {name}</source>
        <translation>已復原 {name} 的註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="516"/>
        <source>Undid the judgment on {name}</source>
        <translation>已復原 {name} 的判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="474"/>
        <source>The note was not saved: N on the same selection brings your text back.</source>
        <translation>註記未儲存：選取相同的影像後按 N 即可取回您輸入的文字。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="477"/>
        <source>Noted 1 image</source>
        <translation>已為 1 張影像加上註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="478"/>
        <source>Noted {n} images</source>
        <translation>已為 {n} 張影像加上註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="479"/>
        <source>Removed the note of 1 image</source>
        <translation>已移除 1 張影像的註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="480"/>
        <source>Removed the note of {n} images</source>
        <translation>已移除 {n} 張影像的註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="495"/>
        <source>Note for the {n} selected images. One of them has a note of its own: what you save replaces it (Ctrl+Z in the queue brings it back).</source>
        <translation>已選取的 {n} 張影像的註記。其中 1 張已有自己的註記：儲存後會取代它（在複判佇列按 Ctrl+Z 可復原）。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="498"/>
        <source>Note for the {n} selected images. {k} of them have notes of their own: what you save replaces them (Ctrl+Z in the queue brings them back).</source>
        <translation>已選取的 {n} 張影像的註記。其中 {k} 張已有自己的註記：儲存後會取代它們（在複判佇列按 Ctrl+Z 可復原）。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="508"/>
        <source>Nothing to undo: this window undoes what was done in it (the main window&apos;s Ctrl+Z undoes what was judged there).</source>
        <translation>沒有可復原的動作：此視窗只復原在此視窗中做的動作（主視窗的 Ctrl+Z 復原在主視窗中的判定）。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="517"/>
        <source>Undid the notes on {n} images</source>
        <translation>已復原 {n} 張影像的註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="518"/>
        <source>Undid {n} judgments</source>
        <translation>已復原 {n} 筆判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="547"/>
        <source>Judgments NOT saved</source>
        <translation>判定「未」儲存</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="548"/>
        <source>The database could not be written, so nothing was saved:

{msg}</source>
        <translation>無法寫入資料庫，因此沒有儲存任何判定：

{msg}</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="563"/>
        <source>{n} left to colleagues who hold them</source>
        <translation>{n} 張留給已保留它們的同事</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="566"/>
        <source>{n} already judged left as they are (select only those to judge them again)</source>
        <translation>{n} 張已判定的影像維持原判（只選取它們即可重新判定）</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="570"/>
        <source>{n} left as {who} judged them</source>
        <translation>{n} 張保留 {who} 的判定</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="117"/>
        <source>Nothing undone: {file} was judged since by {who} ({when}): {what}.</source>
        <translation>未復原任何判定：{file} 此後已由 {who} 判定（{when}）：{what}。</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="121"/>
        <source>Not saved: {who} changed the note meanwhile ({when}): “{theirs}”. Your text is kept: N on the same selection brings it back.</source>
        <translation>未儲存：{who} 在此期間修改了註記（{when}）：「{theirs}」。您的文字已保留：在同樣的選取上按 N 即可取回。</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="124"/>
        <source>no note</source>
        <translation>無註記</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="128"/>
        <source>Nothing saved: 1 of the selected images was judged meanwhile (by {who}); the queue shows it as it is now.</source>
        <translation>未儲存任何判定：所選影像中有 1 張已在此期間被判定（由 {who}）；佇列顯示其目前狀態。</translation>
    </message>
    <message>
        <location filename="../ui/queue_model.py" line="130"/>
        <source>Nothing saved: {n} of the selected images were judged meanwhile (by {who}); the queue shows them as they are now.</source>
        <translation>未儲存任何判定：所選影像中有 {n} 張已在此期間被判定（由 {who}）；佇列顯示其目前狀態。</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="584"/>
        <source>Export the queue</source>
        <translation>匯出佇列</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="590"/>
        <source>Exported {n} rows to {path}</source>
        <translation>已匯出 {n} 列至 {path}</translation>
    </message>
    <message>
        <location filename="../ui/queue_actions.py" line="593"/>
        <source>Export failed</source>
        <translation>匯出失敗</translation>
    </message>
</context>
<context>
    <name>Reason</name>
    <message>
        <location filename="../ui/style.py" line="240"/>
        <source>confidence {value} &lt; this type&apos;s auto threshold {limit}</source>
        <translation>信心度 {value} &lt; 此類別的自動判定門檻 {limit}</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="243"/>
        <source>this type is always re-judged: calibration could not show purity {limit} for it (too few of its images, or too many wrong)</source>
        <translation>此類別一律複判：校準無法證明其純度達 {limit}（其影像太少，或判錯太多）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="248"/>
        <source>new-type score {value} &gt; {limit}</source>
        <translation>新類別分數 {value} &gt; {limit}</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="251"/>
        <source>random spot check ({share} of the images the model would judge alone)</source>
        <translation>隨機抽查（模型可自動判定之影像的 {share}）</translation>
    </message>
</context>
<context>
    <name>Similar</name>
    <message>
        <location filename="../ui/similar_panel.py" line="65"/>
        <location filename="../ui/similar_panel.py" line="155"/>
        <source>Similar judged cases</source>
        <translation>相似的已判定案例</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="113"/>
        <source>unknown type</source>
        <translation>未知類別</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="132"/>
        <source>Top-{k} · {sim}%
{name}</source>
        <translation>第 {k} 候選 · {sim}%
{name}</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="147"/>
        <source>{file}
Judged {leaf} by {who} on {when}
Similarity {sim:.3f}</source>
        <translation>{file}
由 {who} 於 {when} 判定為 {leaf}
相似度 {sim:.3f}</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="141"/>
        <source>No judged image of these types yet.</source>
        <translation>這些類別尚無已判定的影像。</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="142"/>
        <source>No judged image of this model version is similar yet.</source>
        <translation>此模型版本尚無相似的已判定影像。</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="156"/>
        <source>References: {types} · {key}: next</source>
        <translation>參考影像：{types} · {key}：下一張</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="157"/>
        <source>Top-{k} {name}</source>
        <translation>第 {k} 候選 {name}</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="166"/>
        <source>none yet</source>
        <translation>尚無</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="169"/>
        <source>{first} (+{n} more)</source>
        <translation>{first}（另 {n} 筆）</translation>
    </message>
    <message>
        <location filename="../ui/similar_panel.py" line="231"/>
        <source>Similar cases could not be looked up: {why}</source>
        <translation>無法查詢相似案例：{why}</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="68"/>
        <source>A spot check is judged blind: similar cases show once it is judged.</source>
        <translation>抽查須盲判：判定後才顯示相似案例。</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="71"/>
        <source>The image could not be read: nothing to compare.</source>
        <translation>無法讀取此影像：沒有可比對的內容。</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="73"/>
        <source>The database is read-only: no model runs here, and similar cases come with its predictions.</source>
        <translation>資料庫為唯讀：此處不執行模型，相似案例需有模型的預測才會列出。</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="76"/>
        <source>No model is loaded: similar cases come with its predictions.</source>
        <translation>尚未載入模型：載入並預測後才會列出相似案例。</translation>
    </message>
    <message>
        <location filename="../ui/references.py" line="79"/>
        <source>Similar cases follow once the model has read this image.</source>
        <translation>模型預測此影像後，會列出相似案例。</translation>
    </message>
</context>
<context>
    <name>Skipped</name>
    <message>
        <location filename="../ui/skipped_dialog.py" line="28"/>
        <source>fma-judge — files not in this batch</source>
        <translation>fma-judge — 未加入此批次的檔案</translation>
    </message>
    <message>
        <location filename="../ui/skipped_dialog.py" line="30"/>
        <source>These files were not added to the batch, for the reason beside each: a file to fix or convert is added when the folder is opened again.</source>
        <translation>這些檔案未加入批次，原因列在各檔案旁：需修正或轉檔的檔案，在再次開啟資料夾時加入。</translation>
    </message>
    <message>
        <location filename="../ui/skipped_dialog.py" line="34"/>
        <source>File</source>
        <translation>檔案</translation>
    </message>
    <message>
        <location filename="../ui/skipped_dialog.py" line="35"/>
        <source>Why</source>
        <translation>原因</translation>
    </message>
</context>
<context>
    <name>Spectrum</name>
    <message>
        <location filename="../ui/spectrum_panel.py" line="101"/>
        <source>wavenumber (cm⁻¹) · absorbance</source>
        <translation>波數 (cm⁻¹) · 吸收度</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="248"/>
        <source>No reference spectrum to lay over it yet: import a library (fma-judge spectra import FOLDER) or judge images that have spectra.</source>
        <translation>尚無可疊加的參考光譜：請匯入光譜庫（fma-judge spectra import FOLDER）或判定附有光譜的影像。</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="261"/>
        <source>This image has one FTIR spectrum.</source>
        <translation>此影像只有一條 FTIR 光譜。</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="268"/>
        <source>This image has no FTIR spectrum (a .jdx, .dx or .csv file named after the image, beside it).</source>
        <translation>此影像沒有 FTIR 光譜（光譜應為與影像同名、放在其旁的 .jdx、.dx 或 .csv 檔）。</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="283"/>
        <source>FTIR spectrum · {name}</source>
        <translation>FTIR 光譜 · {name}</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="284"/>
        <source>Shift+I: next spectrum</source>
        <translation>Shift+I：下一條光譜</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="286"/>
        <source>The window is short: the chart is folded so that the Top-5 stays in sight. A taller window, or dragging the handle above, shows it.</source>
        <translation>視窗太矮：圖表已收合，好讓前五名留在畫面上。視窗加高，或拖動上方的分隔線，即可看到圖表。</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="327"/>
        <source>Chart folded · peaks {peaks} cm⁻¹</source>
        <translation>圖表已收合 · 峰值 {peaks} cm⁻¹</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="338"/>
        <source>No reference spectrum is like this one (of {n}: every HQI under {floor}).</source>
        <translation>沒有與此光譜相似的參考光譜（共 {n} 條，HQI 皆低於 {floor}）。</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="170"/>
        <location filename="../ui/spectrum_panel.py" line="290"/>
        <source>Spectrum suggests: {type} (HQI {hqi})</source>
        <translation>光譜建議：{type}（HQI {hqi}）</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="342"/>
        <source>No reference spectrum yet: import a library
(fma-judge spectra import FOLDER) or judge images.</source>
        <translation>尚無參考光譜：請匯入光譜庫
（fma-judge spectra import 資料夾）或先判定影像。</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="346"/>
        <source>library</source>
        <translation>光譜庫</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="347"/>
        <source>judged image</source>
        <translation>已判定影像</translation>
    </message>
    <message>
        <location filename="../ui/spectrum_panel.py" line="350"/>
        <source>I: next reference over the spectrum</source>
        <translation>I：疊上下一個參考光譜</translation>
    </message>
</context>
<context>
    <name>State</name>
    <message>
        <location filename="../ui/style.py" line="40"/>
        <source>pending</source>
        <translation>待判定</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="41"/>
        <source>auto-judged</source>
        <translation>自動判定</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="42"/>
        <source>accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="43"/>
        <source>corrected</source>
        <translation>已更正</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="44"/>
        <source>unknown type</source>
        <translation>未知類別</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="45"/>
        <source>re-judge</source>
        <translation>需複判</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="46"/>
        <source>unreadable</source>
        <translation>無法讀取</translation>
    </message>
</context>
<context>
    <name>Store</name>
    <message>
        <location filename="../ui/style.py" line="305"/>
        <source>open</source>
        <translation>開啟</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="305"/>
        <source>check</source>
        <translation>檢查</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="306"/>
        <source>use</source>
        <translation>使用</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="306"/>
        <source>read</source>
        <translation>讀取</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="307"/>
        <source>write to</source>
        <translation>寫入</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="307"/>
        <source>create</source>
        <translation>建立</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="308"/>
        <source>upgrade</source>
        <translation>升級</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="312"/>
        <source>; nothing was changed</source>
        <translation>；沒有任何變更</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="309"/>
        <source>Cannot {action} the database {db}: {reason}</source>
        <translation>無法{action}資料庫 {db}：{reason}</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="310"/>
        <source> read-only</source>
        <translation>（唯讀）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="364"/>
        <source>the server refused this login the rights it needs on the database (its tables, or the database itself); ask its administrator to grant them</source>
        <translation>伺服器未給此登入帳號使用資料庫（其資料表或資料庫本身）所需的權限；請資料庫管理員授予</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="369"/>
        <source>the file does not exist yet and the folder {folder} is read-only for you, so it cannot be made</source>
        <translation>檔案尚不存在，而資料夾 {folder} 對您而言是唯讀的，因此無法建立</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="367"/>
        <source>the folder {folder} does not exist</source>
        <translation>資料夾 {folder} 不存在</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="352"/>
        <source>the server needs a password and none was given; give it with PGPASSWORD or a password file (~/.pgpass, on Windows %APPDATA%\postgresql\pgpass.conf)</source>
        <translation>伺服器需要密碼，但未提供；請以 PGPASSWORD 或密碼檔（~/.pgpass，Windows 為 %APPDATA%\postgresql\pgpass.conf）提供密碼</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="355"/>
        <source>the server refused the password; give it with PGPASSWORD or a password file (~/.pgpass, on Windows %APPDATA%\postgresql\pgpass.conf)</source>
        <translation>伺服器拒絕了密碼；請以 PGPASSWORD 或密碼檔（~/.pgpass，Windows 為 %APPDATA%\postgresql\pgpass.conf）提供密碼</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="359"/>
        <source> (waited {waited} s of at most {most} s)</source>
        <translation>（已等待 {waited} 秒，最多 {most} 秒）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="360"/>
        <source> (waited {waited} s)</source>
        <translation>（已等待 {waited} 秒）</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="361"/>
        <source>the database is locked by another program{waited}; close other fma-judge windows and retry</source>
        <translation>資料庫被其他程式鎖定{waited}；請關閉其他 fma-judge 視窗後重試</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="372"/>
        <source>the file {path} is read-only for you</source>
        <translation>檔案 {path} 對您而言是唯讀的</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="374"/>
        <source>{path} (or its folder) is read-only for you</source>
        <translation>{path}（或其資料夾）對您而言是唯讀的</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="376"/>
        <source>{path} is a folder: give a database file, such as {example}</source>
        <translation>{path} 是資料夾：請指定資料庫檔案，例如 {example}</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="378"/>
        <source>a PNG image</source>
        <translation>PNG 影像</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="378"/>
        <source>a JPEG image</source>
        <translation>JPEG 影像</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="379"/>
        <source>a TIFF image</source>
        <translation>TIFF 影像</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="379"/>
        <source>a ZIP file</source>
        <translation>ZIP 檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="380"/>
        <source>a PDF file</source>
        <translation>PDF 檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="381"/>
        <source>another kind of file</source>
        <translation>其他類型的檔案</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="382"/>
        <source>{path} is not a database ({kind}): give the fma-judge database file, or a new file name</source>
        <translation>{path} 不是資料庫（{kind}）：請指定 fma-judge 的資料庫檔案，或新的檔案名稱</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="387"/>
        <source>fma-judge keeps its judgments in SQLite (sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB) only</source>
        <translation>fma-judge 僅將判定儲存在 SQLite（sqlite:///PATH）或 PostgreSQL（postgresql+psycopg://USER@HOST/DB）中</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="390"/>
        <source>its newest changes are in {wal}, which cannot be read without write access to {folder}</source>
        <translation>其最新的變更位於 {wal}，沒有 {folder} 的寫入權限就無法讀取</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="344"/>
        <source>the database file or its folder is read-only</source>
        <translation>資料庫檔案或其資料夾是唯讀的</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="346"/>
        <source>the disk is full</source>
        <translation>磁碟已滿</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="385"/>
        <source>it was opened read-only</source>
        <translation>它以唯讀方式開啟</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="348"/>
        <source>the file cannot be opened; check its permissions</source>
        <translation>無法開啟檔案；請檢查其權限</translation>
    </message>
    <message>
        <location filename="../ui/style.py" line="350"/>
        <source>the file is not an fma-judge database or it is damaged</source>
        <translation>此檔案不是 fma-judge 資料庫，或已損壞</translation>
    </message>
</context>
<context>
    <name>TaxonomyPicker</name>
    <message>
        <location filename="../ui/picker.py" line="50"/>
        <source>Defect type</source>
        <translation>缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="132"/>
        <source>Choose the defect type</source>
        <translation>選擇缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="138"/>
        <source>Type to filter by English or Chinese name, or id…</source>
        <translation>輸入英文或中文名稱、或 ID 以篩選…</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="153"/>
        <location filename="../ui/picker.py" line="220"/>
        <location filename="../ui/picker.py" line="349"/>
        <source>Enter: choose · ↑↓: move · Esc: cancel</source>
        <translation>Enter：選擇 · ↑↓：移動 · Esc：取消</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="162"/>
        <source>Only {node} (determined by the model) · Tab: all types</source>
        <translation>僅顯示 {node}（模型已確定）· Tab：全部類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="222"/>
        <source>{n} types match · Enter: choose · ↑↓: move</source>
        <translation>{n} 個類別相符 · Enter：選取 · ↑↓：移動</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="223"/>
        <source>1 type matches · Enter: choose</source>
        <translation>1 個類別相符 · Enter：選取</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="227"/>
        <source>No type of {node} matches · ↓: the closest, {names} · Tab: all types</source>
        <translation>{node} 內沒有相符的類別 · ↓：最接近的：{names} · Tab：全部類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="229"/>
        <source>No type of {node} matches · Tab: all types</source>
        <translation>{node} 內沒有相符的類別 · Tab：全部類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="232"/>
        <source>No type matches · ↓: the closest, {names}</source>
        <translation>沒有相符的類別 · ↓：最接近的：{names}</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="233"/>
        <source>No type matches · a kind outside the tree: Esc, then {key}</source>
        <translation>沒有相符的類別 · 不在類別樹中的缺陷：按 Esc，再按 {key}</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="234"/>
        <source>No type matches</source>
        <translation>沒有相符的類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="311"/>
        <location filename="../ui/picker.py" line="348"/>
        <source>Pick a type first: type its name or move with ↑↓</source>
        <translation>請先選擇類別：輸入名稱或以 ↑↓ 移動</translation>
    </message>
</context>
<context>
    <name>Viewer</name>
    <message>
        <location filename="../ui/viewer.py" line="141"/>
        <source>heatmap…</source>
        <translation>熱圖計算中…</translation>
    </message>
    <message>
        <location filename="../ui/viewer.py" line="145"/>
        <source>The heatmap of this image is being computed</source>
        <translation>正在計算這張影像的熱圖</translation>
    </message>
    <message>
        <location filename="../ui/viewer.py" line="399"/>
        <source>brightness {v:+.0f}%</source>
        <translation>亮度 {v:+.0f}%</translation>
    </message>
    <message>
        <location filename="../ui/viewer.py" line="401"/>
        <source>contrast ×{v:.2f}</source>
        <translation>對比 ×{v:.2f}</translation>
    </message>
    <message>
        <location filename="../ui/viewer.py" line="403"/>
        <source>gamma {v:.2f}</source>
        <translation>Gamma {v:.2f}</translation>
    </message>
    <message>
        <location filename="../ui/viewer.py" line="405"/>
        <source>R resets</source>
        <translation>R 還原</translation>
    </message>
</context>
<context>
    <name>Why</name>
    <message>
        <location filename="../ui/explain.py" line="30"/>
        <source>Attention (CBAM) · {key}: why this type?</source>
        <translation>注意力（CBAM）· {key}：為何是此類別？</translation>
    </message>
    <message>
        <location filename="../ui/explain.py" line="32"/>
        <source>Where the model looked (LayerCAM) · {key}: why this type?</source>
        <translation>模型關注之處（LayerCAM）· {key}：為何是此類別？</translation>
    </message>
    <message>
        <location filename="../ui/explain.py" line="82"/>
        <source>Why {name}? (Top-{k}) computing…</source>
        <translation>為何是「{name}」？（Top-{k}）計算中…</translation>
    </message>
    <message>
        <location filename="../ui/explain.py" line="117"/>
        <source>Why {name}? (Top-{k}, LayerCAM) · {key}: next</source>
        <translation>為何是「{name}」？（Top-{k}，LayerCAM）· {key}：下一個</translation>
    </message>
    <message>
        <location filename="../ui/explain.py" line="131"/>
        <source>Why {name}? failed: {reason}</source>
        <translation>為何是「{name}」？計算失敗：{reason}</translation>
    </message>
</context>
</TS>
