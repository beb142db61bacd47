<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_TW">
<context>
    <name>Help</name>
    <message>
        <location filename="../ui/help_overlay.py" line="13" />
        <source>Accept the prediction</source>
        <translation>接受預測</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="14" />
        <source>Choose that Top-k leaf</source>
        <translation>選擇該 Top-k 類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="15" />
        <source>Open the defect-type picker</source>
        <translation>開啟缺陷類別選擇器</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="16" />
        <source>Mark as unknown / new defect type</source>
        <translation>標記為未知／新缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="17" />
        <source>Add a note to the current image</source>
        <translation>為目前影像加註記</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="18" />
        <source>Previous / next image</source>
        <translation>上一張／下一張影像</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="19" />
        <source>Undo (across images)</source>
        <translation>復原（可跨影像）</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="20" />
        <source>Redo</source>
        <translation>重做</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="21" />
        <source>Heatmap on / off</source>
        <translation>熱圖 開／關</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="22" />
        <source>Heatmap side by side</source>
        <translation>熱圖並排顯示</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="23" />
        <source>Heatmap opacity − / +</source>
        <translation>熱圖透明度 − / +</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="24" />
        <source>Zoom in / out / fit</source>
        <translation>放大／縮小／符合視窗</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="25" />
        <source>Open a folder</source>
        <translation>開啟資料夾</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="26" />
        <source>Show / hide this help</source>
        <translation>顯示／隱藏本說明</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="44" />
        <source>Keyboard shortcuts</source>
        <translation>鍵盤快捷鍵</translation>
    </message>
    <message>
        <location filename="../ui/help_overlay.py" line="52" />
        <source>Press any key to close</source>
        <translation>按任意鍵關閉</translation>
    </message>
</context>
<context>
    <name>Main</name>
    <message>
        <location filename="../ui/app.py" line="98" />
        <location filename="../ui/main_window.py" line="681" />
        <source>Your name (recorded with every judgment):</source>
        <translation>您的姓名（每筆判定都會記錄）：</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="109" />
        <source>The database cannot be opened:

{msg}</source>
        <translation>無法開啟資料庫：

{msg}</translation>
    </message>
    <message>
        <location filename="../ui/app.py" line="128" />
        <source>Folder not found: {p}</source>
        <translation>找不到資料夾：{p}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="60" />
        <source>Judge a batch of defect images</source>
        <translation>判定一批缺陷影像</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="62" />
        <source>Open a folder of microscope images (PNG, JPEG, BMP, TIFF), or drop files here.
The model predicts each image; you accept with Enter or correct with 1–5 or C.</source>
        <translation>開啟顯微鏡影像資料夾（PNG、JPEG、BMP、TIFF），或將檔案拖放到此處。
模型會預測每張影像；按 Enter 接受，按 1–5 或 C 修正。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="67" />
        <source>Open the demo batch</source>
        <translation>開啟示範批次</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="68" />
        <source>Open a folder…  (Ctrl+O)</source>
        <translation>開啟資料夾…  (Ctrl+O)</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="161" />
        <source>Main</source>
        <translation>主工具列</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="164" />
        <source>Open folder…</source>
        <translation>開啟資料夾…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="166" />
        <source>Open files…</source>
        <translation>開啟檔案…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="168" />
        <source>Model…</source>
        <translation>模型…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="170" />
        <source>Export labels…</source>
        <translation>匯出標籤…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="172" />
        <source>Heatmap</source>
        <translation>熱圖</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="176" />
        <source>Side by side</source>
        <translation>並排</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="183" />
        <source>Heatmap opacity ([ and ])</source>
        <translation>熱圖透明度（[ 與 ]）</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="186" />
        <source>Shortcuts (F1)</source>
        <translation>快捷鍵 (F1)</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="190" />
        <location filename="../ui/main_window.py" line="199" />
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="191" />
        <source>Language</source>
        <translation>語言</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="197" />
        <source>Change analyst…</source>
        <translation>變更分析人員…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="216" />
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="221" />
        <location filename="../ui/main_window.py" line="292" />
        <source>No model</source>
        <translation>未載入模型</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="229" />
        <location filename="../ui/main_window.py" line="687" />
        <source>Analyst: {name}</source>
        <translation>分析人員：{name}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="272" />
        <source>Loading model…</source>
        <translation>正在載入模型…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="283" />
        <source>Model: {v}</source>
        <translation>模型：{v}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="293" />
        <source>Model could not be loaded</source>
        <translation>無法載入模型</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="294" />
        <source>The model could not be loaded:

{msg}

Choose another model with “Model…”. You can still open batches and review earlier judgments.</source>
        <translation>無法載入模型：

{msg}

請用「模型…」選擇其他模型。您仍可開啟批次並檢視先前的判定。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="299" />
        <source>Choose a model bundle folder</source>
        <translation>選擇模型套件資料夾</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="310" />
        <source>Open a folder of images</source>
        <translation>開啟影像資料夾</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="312" />
        <source>Sub-folders</source>
        <translation>子資料夾</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="313" />
        <source>Also open images in sub-folders?</source>
        <translation>是否一併開啟子資料夾中的影像？</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="319" />
        <source>Open images</source>
        <translation>開啟影像</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="320" />
        <source>Images ({p})</source>
        <translation>影像 ({p})</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="332" />
        <source>Reading images…</source>
        <translation>正在讀取影像…</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="350" />
        <source>Reading images {done}/{total}</source>
        <translation>正在讀取影像 {done}/{total}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="355" />
        <source>Cannot open</source>
        <translation>無法開啟</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="361" />
        <source>No images</source>
        <translation>沒有影像</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="362" />
        <source>There are no images (PNG, JPEG, BMP, TIFF) in {where}.</source>
        <translation>{where} 中沒有影像（PNG、JPEG、BMP、TIFF）。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="462" />
        <source>Predicting {done}/{total} · ETA {eta}</source>
        <translation>預測中 {done}/{total} · 預估剩餘 {eta}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="471" />
        <source>Predictions cancelled</source>
        <translation>已取消預測</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="498" />
        <source>Cannot show this image</source>
        <translation>無法顯示此影像</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="573" />
        <source>{left} left</source>
        <translation>剩餘 {left} 張</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="616" />
        <source>Note</source>
        <translation>註記</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="617" />
        <source>Note for {name}:</source>
        <translation>{name} 的註記：</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="656" />
        <source>Every image of this batch is judged.</source>
        <translation>此批次的所有影像皆已判定。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="665" />
        <source>Judgment NOT saved</source>
        <translation>判定「未」儲存</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="666" />
        <source>The database could not be written, so this judgment was not saved:

{msg}

The image keeps its previous state. Fix the problem (disk space, permissions, network) and judge it again.</source>
        <translation>無法寫入資料庫，因此這筆判定沒有儲存：

{msg}

影像維持原本的狀態。請排除問題（磁碟空間、權限、網路）後再判定一次。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="677" />
        <source>The language changes the next time fma-judge starts.</source>
        <translation>語言將於下次啟動 fma-judge 時變更。</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="693" />
        <source>Export corrected labels</source>
        <translation>匯出修正後的標籤</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="701" />
        <source>Exported {n} labels to {p}</source>
        <translation>已匯出 {n} 筆標籤至 {p}</translation>
    </message>
    <message>
        <location filename="../ui/main_window.py" line="702" />
        <source>Export failed</source>
        <translation>匯出失敗</translation>
    </message>
</context>
<context>
    <name>Panel</name>
    <message>
        <location filename="../ui/main_window.py" line="393" />
        <location filename="../ui/prediction_panel.py" line="251" />
        <source>unknown / new defect type</source>
        <translation>未知／新缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="106" />
        <source>Predicted path</source>
        <translation>預測路徑</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="111" />
        <source>Top-5 (press 1–5)</source>
        <translation>前 5 名（按 1–5）</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="144" />
        <source>Accept  (Enter)</source>
        <translation>接受  (Enter)</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="147" />
        <source>Other type…  (C)</source>
        <translation>其他類別…  (C)</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="148" />
        <source>Unknown / new type  (U)</source>
        <translation>未知／新類別  (U)</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="149" />
        <source>Note  (N)</source>
        <translation>註記  (N)</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="211" />
        <source>No image selected</source>
        <translation>未選取影像</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="252" />
        <source>Judged &lt;b&gt;{what}&lt;/b&gt; by {who} at {when}</source>
        <translation>由 {who} 於 {when} 判定為 &lt;b&gt;{what}&lt;/b&gt;</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="255" />
        <source>Note: {note}</source>
        <translation>註記：{note}</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="263" />
        <source>Model: {v}</source>
        <translation>模型：{v}</translation>
    </message>
</context>
<context>
    <name>State</name>
    <message>
        <location filename="../ui/prediction_panel.py" line="25" />
        <source>pending</source>
        <translation>待判定</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="26" />
        <source>accepted</source>
        <translation>已接受</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="27" />
        <source>corrected</source>
        <translation>已修正</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="28" />
        <source>unknown type</source>
        <translation>未知類別</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="29" />
        <source>re-judge</source>
        <translation>需複判</translation>
    </message>
    <message>
        <location filename="../ui/prediction_panel.py" line="30" />
        <source>error</source>
        <translation>錯誤</translation>
    </message>
</context>
<context>
    <name>TaxonomyPicker</name>
    <message>
        <location filename="../ui/picker.py" line="19" />
        <source>Defect type</source>
        <translation>缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="83" />
        <source>Choose the defect type</source>
        <translation>選擇缺陷類別</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="88" />
        <source>Type to filter by English or Chinese name, or id…</source>
        <translation>輸入英文或中文名稱、或 ID 以篩選…</translation>
    </message>
    <message>
        <location filename="../ui/picker.py" line="99" />
        <source>Enter: choose · ↑↓: move · Esc: cancel</source>
        <translation>Enter：選擇 · ↑↓：移動 · Esc：取消</translation>
    </message>
</context>
</TS>